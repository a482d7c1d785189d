// IndexedDB in a few promise-returning functions, for store.rs. One database, "mimimi", with a
// key-value object store per kind of record (profiles, clips, history, audio). Keys are
// strings; values are strings (JSON) or Uint8Arrays (audio).
const STORES = ['profiles', 'clips', 'history', 'audio'];
let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      if (!self.indexedDB) { reject(new Error('this browser keeps no data (no IndexedDB)')); return; }
      const req = indexedDB.open('mimimi', 1);
      req.onupgradeneeded = () => {
        for (const name of STORES) {
          if (!req.result.objectStoreNames.contains(name)) req.result.createObjectStore(name);
        }
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error('the data store is held by another tab of this page'));
    });
    opening.catch(() => { opening = null; });
  }
  return opening;
}

// One transaction: everything `action` asks of the store happens, or nothing does (an
// exception in `action` aborts what it had already asked).
function run(store, mode, action) {
  return open().then((db) => new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    let req;
    try {
      req = action(tx.objectStore(store));
    } catch (e) {
      tx.onabort = () => reject(e);
      tx.abort();
      return;
    }
    tx.oncomplete = () => resolve(req ? req.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('the write was aborted (storage full?)'));
  }));
}

export function idb_put(store, key, value) { return run(store, 'readwrite', (s) => s.put(value, key)); }
// Puts every value under its key in one transaction: all are stored or none.
export function idb_put_all(store, keys, values) {
  return run(store, 'readwrite', (s) => { keys.forEach((key, i) => s.put(values[i], key)); });
}
export function idb_get(store, key) { return run(store, 'readonly', (s) => s.get(key)); }
export function idb_delete(store, key) { return run(store, 'readwrite', (s) => s.delete(key)); }
export function idb_clear(store) { return run(store, 'readwrite', (s) => s.clear()); }
export function idb_keys(store) { return run(store, 'readonly', (s) => s.getAllKeys()); }
export function idb_values(store) { return run(store, 'readonly', (s) => s.getAll()); }

// Asks the browser to keep this site's data when space runs low (best effort).
export function persist() {
  return navigator.storage && navigator.storage.persist ? navigator.storage.persist() : Promise.resolve(false);
}

// Offers bytes to the user as a downloaded file.
export function save_file(name, mime, bytes) {
  const url = URL.createObjectURL(new Blob([bytes], { type: mime }));
  const a = document.createElement('a');
  a.href = url; a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
