//! Reading PyTorch checkpoints without Python: the zip format of `torch.save` (a pickle,
//! `data.pkl`, whose tensors point at raw storages `data/<key>` in the same archive), and
//! safetensors files.
//!
//! Only the parts of pickle that `torch.save` emits are interpreted. Calls are understood for
//! `collections.OrderedDict`, `torch._utils._rebuild_tensor_v2` and
//! `torch._utils._rebuild_parameter`; anything else becomes an opaque object, so an optimizer
//! state or a metrics history of any shape is read past, not rejected.
//!
//! Hand-written because burn-store's PyTorch reader has no complex dtype, and the reference
//! network stores complex tensors. Memory is bounded by the file: a tensor may not have more
//! elements than its storage, the archive may not inflate past `MAX_INFLATION`× its size, and
//! a deeply nested object is dropped without recursion.

use crate::state_dict::{HostTensor, StateDict, read_safetensors};
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::rc::Rc;

/// A value of the unpickled object graph.
#[derive(Debug, Clone)]
pub enum Value {
    /// `None`.
    None,
    /// A bool.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A str.
    Str(String),
    /// A tuple.
    Tuple(Vec<Obj>),
    /// A list.
    List(Vec<Obj>),
    /// A dict (insertion order kept).
    Dict(Vec<(Obj, Obj)>),
    /// A `module.name` global.
    Global(String, String),
    /// A storage reference: element type and archive key.
    Storage {
        /// e.g. `FloatStorage`.
        kind: String,
        /// The entry `data/<key>`.
        key: String,
    },
    /// A tensor view of a storage.
    Tensor {
        /// Storage element type.
        kind: String,
        /// Storage key.
        key: String,
        /// Offset in elements.
        offset: usize,
        /// Shape.
        size: Vec<usize>,
        /// Strides in elements.
        stride: Vec<usize>,
    },
    /// Anything else (a call we do not interpret).
    Opaque,
}

/// A shared, mutable pickle object (lists and dicts are filled after they are memoised).
pub type Obj = Rc<RefCell<Value>>;

impl Value {
    /// The objects a container holds, moved out (the container is left empty).
    fn take_children(&mut self) -> Vec<Obj> {
        match self {
            Value::Tuple(items) | Value::List(items) => std::mem::take(items),
            Value::Dict(pairs) => std::mem::take(pairs)
                .into_iter()
                .flat_map(|(k, v)| [k, v])
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl Drop for Value {
    /// Takes nested containers apart on a heap stack: a pickle of 100,000 nested lists (two
    /// bytes each) must not overflow the call stack when it is dropped.
    fn drop(&mut self) {
        let mut pending = self.take_children();
        while let Some(o) = pending.pop() {
            // Only the last owner takes an object apart; shared ones are dropped later.
            if let Ok(mut cell) = Rc::try_unwrap(o) {
                pending.extend(cell.get_mut().take_children());
            }
        }
    }
}

/// Most pickle operations read: each makes at most one object, so this caps the object graph
/// (tens of MB). The reference network's training checkpoint, optimizer state included, has a
/// 25 kB pickle: well under a tenth of this.
pub const MAX_OPS: usize = 1 << 18;

fn obj(v: Value) -> Obj {
    Rc::new(RefCell::new(v))
}

/// Why a checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The pickle breaks a rule of the format (truncated, stack underflow, ...).
    #[error("pickle: {problem} (byte {at})")]
    Pickle {
        /// Offset in the pickle.
        at: usize,
        /// What is wrong.
        problem: &'static str,
    },
    /// A memo slot is fetched that was never stored.
    #[error("pickle memo {0} missing")]
    PickleMemo(u32),
    /// An opcode `torch.save` does not emit.
    #[error("unsupported pickle opcode {op:#04x} at byte {at}")]
    PickleOpcode {
        /// The opcode.
        op: u8,
        /// Its offset.
        at: usize,
    },
    /// A BUILD whose state is the object it builds (it would borrow itself twice).
    #[error("pickle BUILD whose state is its own target (byte {0})")]
    SelfBuild(usize),
    /// More operations than any checkpoint needs: a few compressed kilobytes of one-byte
    /// opcodes would otherwise become gigabytes of objects.
    #[error("the pickle has more than {MAX_OPS} operations")]
    TooManyOps,
    /// A dict built from an odd number of items.
    #[error("pickle dict of {0} items: keys and values must pair up")]
    PickleDictPairs(usize),
    /// The file is neither a zip archive nor safetensors.
    #[error(
        "unrecognised checkpoint: expected a torch.save file (.pth/.pt, zip format) or \
         .safetensors; checkpoints in the legacy (pre-1.6) pickle format must be re-saved with a \
         current PyTorch"
    )]
    Unrecognised,
    /// A zip archive that cannot be opened.
    #[error("not a PyTorch checkpoint (expected the zip format of torch.save): {0}")]
    NotZip(#[source] zip::result::ZipError),
    /// The archive has no `data.pkl`.
    #[error("no data.pkl in the archive: not a torch.save checkpoint")]
    NoPickle,
    /// An entry the pickle names is missing or cannot be read.
    #[error("{entry}: {reason}")]
    Entry {
        /// The entry's name in the archive.
        entry: String,
        /// The archive's or the decompressor's message.
        reason: String,
    },
    /// The entries together inflate past the cap.
    #[error("{entry}: the archive inflates to more than {MAX_INFLATION}× its size")]
    Inflation {
        /// The entry that crossed the cap.
        entry: String,
    },
    /// `byteorder` says big-endian.
    #[error("big-endian checkpoints are not supported")]
    BigEndian,
    /// The top level (or the state dict) is not a dict.
    #[error("the {0} is not a dict")]
    NotADict(&'static str),
    /// No float tensor anywhere in the state dict.
    #[error("no float tensors found in the checkpoint")]
    NoFloatTensors,
    /// A tensor whose storage cannot hold it.
    #[error("{name}: {fault}")]
    Tensor {
        /// The state-dict key.
        name: String,
        /// What is wrong with it.
        fault: TensorFault,
    },
}

/// Why one tensor cannot be read from its storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TensorFault {
    /// A storage type that holds no floats the network can use.
    #[error("unsupported storage {0}")]
    Storage(String),
    /// Shape and strides of different lengths.
    #[error("{sizes} sizes for {strides} strides")]
    Rank {
        /// Length of the shape.
        sizes: usize,
        /// Length of the strides.
        strides: usize,
    },
    /// More elements than the storage holds (or a shape whose product overflows).
    #[error("size {size:?} has more elements than its storage's {available}")]
    TooManyElements {
        /// The shape asked for.
        size: Vec<usize>,
        /// Elements in the storage.
        available: usize,
    },
    /// An offset or stride pointing past the storage.
    #[error("tensor reaches past the end of its storage")]
    PastEnd,
}

type Error = CheckpointError;

struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Obj>,
    marks: Vec<usize>,
    memo: HashMap<u32, Obj>,
}

impl<'a> Unpickler<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or_else(|| self.fault("truncated"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn fault(&self, problem: &'static str) -> Error {
        CheckpointError::Pickle {
            at: self.pos,
            problem,
        }
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let s = self.take(N)?;
        Ok(std::array::from_fn(|i| s[i]))
    }
    fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn line(&mut self) -> Result<String, Error> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.fault("unterminated line"))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
    fn string(&mut self, n: usize) -> Result<Obj, Error> {
        let bytes = self.take(n)?;
        Ok(obj(Value::Str(String::from_utf8_lossy(bytes).into_owned())))
    }
    fn pop(&mut self) -> Result<Obj, Error> {
        self.stack
            .pop()
            .ok_or_else(|| self.fault("stack underflow"))
    }
    fn top(&self) -> Result<Obj, Error> {
        self.stack
            .last()
            .cloned()
            .ok_or_else(|| self.fault("stack empty"))
    }
    fn pop_mark(&mut self) -> Result<Vec<Obj>, Error> {
        let mark = self.marks.pop().ok_or_else(|| self.fault("MARK missing"))?;
        if mark > self.stack.len() {
            return Err(self.fault("MARK beyond the stack"));
        }
        Ok(self.stack.split_off(mark))
    }

    fn run(mut self) -> Result<Obj, Error> {
        for _ in 0..MAX_OPS {
            let op = self.u8()?;
            match op {
                0x80 => {
                    self.u8()?; // PROTO
                }
                0x95 => {
                    self.take(8)?; // FRAME
                }
                b'.' => return self.pop(),
                b'(' => self.marks.push(self.stack.len()),
                b'}' => self.stack.push(obj(Value::Dict(Vec::new()))),
                b']' => self.stack.push(obj(Value::List(Vec::new()))),
                b')' => self.stack.push(obj(Value::Tuple(Vec::new()))),
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(obj(Value::Tuple(items)));
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(obj(Value::List(items)));
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items)?;
                    self.stack.push(obj(Value::Dict(pairs)));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    if self.stack.len() < n {
                        return Err(self.fault("stack underflow in TUPLE"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(obj(Value::Tuple(items)));
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let s = self.string(n)?;
                    self.stack.push(s);
                }
                0x8c => {
                    let n = usize::from(self.u8()?);
                    let s = self.string(n)?;
                    self.stack.push(s);
                }
                0x8d => {
                    let n = u64::from_le_bytes(self.array()?) as usize;
                    let s = self.string(n)?;
                    self.stack.push(s);
                }
                b'C' | b'B' | 0x8e => {
                    let n = match op {
                        b'C' => usize::from(self.u8()?),
                        b'B' => self.u32()? as usize,
                        _ => u64::from_le_bytes(self.array()?) as usize,
                    };
                    self.take(n)?;
                    self.stack.push(obj(Value::Opaque));
                }
                b'J' => {
                    let v = i32::from_le_bytes(self.array()?);
                    self.stack.push(obj(Value::Int(i64::from(v))));
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(obj(Value::Int(i64::from(v))));
                }
                b'M' => {
                    let v = self.u16()?;
                    self.stack.push(obj(Value::Int(i64::from(v))));
                }
                0x8a => {
                    let n = usize::from(self.u8()?);
                    let bytes = self.take(n)?;
                    let mut v: i64 = 0;
                    for (i, b) in bytes.iter().enumerate().take(8) {
                        v |= i64::from(*b) << (8 * i);
                    }
                    if n > 0 && n < 8 && bytes[n - 1] & 0x80 != 0 {
                        v -= 1i64 << (8 * n);
                    }
                    self.stack.push(obj(Value::Int(v)));
                }
                b'G' => {
                    let v = f64::from_be_bytes(self.array()?);
                    self.stack.push(obj(Value::Float(v)));
                }
                b'N' => self.stack.push(obj(Value::None)),
                0x88 => self.stack.push(obj(Value::Bool(true))),
                0x89 => self.stack.push(obj(Value::Bool(false))),
                b'q' => {
                    let k = u32::from(self.u8()?);
                    self.memo.insert(k, self.top()?);
                }
                b'r' => {
                    let k = self.u32()?;
                    self.memo.insert(k, self.top()?);
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    self.memo.insert(k, self.top()?);
                }
                b'h' | b'j' => {
                    let k = if op == b'h' {
                        u32::from(self.u8()?)
                    } else {
                        self.u32()?
                    };
                    let v = self
                        .memo
                        .get(&k)
                        .cloned()
                        .ok_or(CheckpointError::PickleMemo(k))?;
                    self.stack.push(v);
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(obj(Value::Global(module, name)));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let text = |o: &Obj| match &*o.borrow() {
                        Value::Str(s) => s.clone(),
                        _ => String::new(),
                    };
                    self.stack
                        .push(obj(Value::Global(text(&module), text(&name))));
                }
                b'Q' => {
                    let pid = self.pop()?;
                    self.stack.push(obj(persistent_load(&pid.borrow())));
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = reduce(&callable.borrow(), &args.borrow());
                    self.stack.push(obj(v));
                }
                b'b' => {
                    let state = self.pop()?;
                    let target = self.top()?;
                    if Rc::ptr_eq(&state, &target) {
                        return Err(CheckpointError::SelfBuild(self.pos - 1));
                    }
                    let mut target = target.borrow_mut();
                    if let (Value::Dict(items), Value::Dict(extra)) =
                        (&mut *target, &*state.borrow())
                    {
                        items.extend(extra.iter().cloned());
                    }
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    if let Value::Dict(items) = &mut *self.top()?.borrow_mut() {
                        items.push((k, v));
                    }
                }
                b'u' => {
                    let items = pairs(self.pop_mark()?)?;
                    if let Value::Dict(d) = &mut *self.top()?.borrow_mut() {
                        d.extend(items);
                    }
                }
                b'a' => {
                    let v = self.pop()?;
                    if let Value::List(l) = &mut *self.top()?.borrow_mut() {
                        l.push(v);
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    if let Value::List(l) = &mut *self.top()?.borrow_mut() {
                        l.extend(items);
                    }
                }
                other => {
                    return Err(CheckpointError::PickleOpcode {
                        op: other,
                        at: self.pos - 1,
                    });
                }
            }
        }
        Err(CheckpointError::TooManyOps)
    }
}

/// Keys and values of a dict, from the items between a MARK and SETITEMS or DICT.
fn pairs(items: Vec<Obj>) -> Result<Vec<(Obj, Obj)>, Error> {
    if !items.len().is_multiple_of(2) {
        return Err(CheckpointError::PickleDictPairs(items.len()));
    }
    let mut items = items.into_iter();
    let mut out = Vec::with_capacity(items.len() / 2);
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        out.push((k, v));
    }
    Ok(out)
}

/// `('storage', torch.XStorage, key, location, numel)` → a storage reference.
fn persistent_load(pid: &Value) -> Value {
    if let Value::Tuple(items) = pid
        && items.len() >= 3
        && let (Value::Global(_, kind), Value::Str(key)) =
            (&*items[1].borrow(), &*items[2].borrow())
    {
        return Value::Storage {
            kind: kind.clone(),
            key: key.clone(),
        };
    }
    Value::Opaque
}

fn ints(v: &Value) -> Option<Vec<usize>> {
    match v {
        Value::Tuple(items) | Value::List(items) => items
            .iter()
            .map(|i| match &*i.borrow() {
                Value::Int(n) if *n >= 0 => Some(*n as usize),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn reduce(callable: &Value, args: &Value) -> Value {
    let Value::Global(module, name) = callable else {
        return Value::Opaque;
    };
    let Value::Tuple(args) = args else {
        return Value::Opaque;
    };
    match (module.as_str(), name.as_str()) {
        ("collections", "OrderedDict") => Value::Dict(Vec::new()),
        ("torch._utils", "_rebuild_tensor_v2") if args.len() >= 4 => {
            let storage = args[0].borrow();
            let (Value::Storage { kind, key }, Value::Int(offset)) =
                (&*storage, &*args[1].borrow())
            else {
                return Value::Opaque;
            };
            match (ints(&args[2].borrow()), ints(&args[3].borrow())) {
                (Some(size), Some(stride)) => Value::Tensor {
                    kind: kind.clone(),
                    key: key.clone(),
                    offset: *offset as usize,
                    size,
                    stride,
                },
                _ => Value::Opaque,
            }
        }
        ("torch._utils", "_rebuild_parameter") if !args.is_empty() => args[0].borrow().clone(),
        _ => Value::Opaque,
    }
}

/// Unpickles `data`.
pub fn unpickle(data: &[u8]) -> Result<Obj, Error> {
    Unpickler {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    }
    .run()
}

/// How to read one storage element: its width in bytes, a reader giving (real, imaginary)
/// as f32, and whether the type is complex.
type ElementReader = (usize, fn(&[u8]) -> [f32; 2], bool);

/// The reader for a storage type, if it holds floats.
fn element(kind: &str) -> Option<ElementReader> {
    fn f32le(b: &[u8]) -> [f32; 2] {
        [f32::from_le_bytes([b[0], b[1], b[2], b[3]]), 0.0]
    }
    fn f64le(b: &[u8]) -> [f32; 2] {
        [
            f64::from_le_bytes(std::array::from_fn(|i| b[i])) as f32,
            0.0,
        ]
    }
    fn f16le(b: &[u8]) -> [f32; 2] {
        [burn_f16(b), 0.0]
    }
    fn bf16le(b: &[u8]) -> [f32; 2] {
        [
            f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16),
            0.0,
        ]
    }
    fn c64le(b: &[u8]) -> [f32; 2] {
        [
            f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            f32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        ]
    }
    fn c128le(b: &[u8]) -> [f32; 2] {
        [f64le(&b[..8])[0], f64le(&b[8..16])[0]]
    }
    Some(match kind {
        "FloatStorage" => (4, f32le, false),
        "DoubleStorage" => (8, f64le, false),
        "HalfStorage" => (2, f16le, false),
        "BFloat16Storage" => (2, bf16le, false),
        "ComplexFloatStorage" => (8, c64le, true),
        "ComplexDoubleStorage" => (16, c128le, true),
        _ => return None,
    })
}

fn burn_f16(b: &[u8]) -> f32 {
    crate::state_dict::f16_to_f32(u16::from_le_bytes([b[0], b[1]]))
}

/// Gathers a (possibly strided) tensor from its storage bytes. Complex tensors come out with a
/// trailing dimension of 2 (real, imaginary), the layout of `torch.view_as_real`.
fn gather(
    storage: &[u8],
    kind: &str,
    offset: usize,
    size: &[usize],
    stride: &[usize],
) -> Result<HostTensor, TensorFault> {
    let (width, read, complex) =
        element(kind).ok_or_else(|| TensorFault::Storage(kind.to_string()))?;
    if size.len() != stride.len() {
        return Err(TensorFault::Rank {
            sizes: size.len(),
            strides: stride.len(),
        });
    }
    // Memory is bounded by the storage the file holds: a tensor may not have more elements
    // than its storage (a crafted size cannot ask for terabytes).
    let count = size
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|&n| n <= storage.len() / width)
        .ok_or_else(|| TensorFault::TooManyElements {
            size: size.to_vec(),
            available: storage.len() / width,
        })?;
    let past_end = || TensorFault::PastEnd;
    let mut data = Vec::with_capacity(count * if complex { 2 } else { 1 });
    let mut index = vec![0usize; size.len()];
    for _ in 0..count {
        let element_at = index
            .iter()
            .zip(stride)
            .try_fold(offset, |at, (i, s)| at.checked_add(i.checked_mul(*s)?))
            .ok_or_else(past_end)?;
        let start = element_at.checked_mul(width).ok_or_else(past_end)?;
        let bytes = storage
            .get(start..start.saturating_add(width))
            .ok_or_else(past_end)?;
        let [re, im] = read(bytes);
        data.push(re);
        if complex {
            data.push(im);
        }
        for d in (0..size.len()).rev() {
            index[d] += 1;
            if index[d] < size[d] {
                break;
            }
            index[d] = 0;
        }
    }
    let mut shape = size.to_vec();
    if complex {
        shape.push(2);
    }
    Ok(HostTensor { shape, data })
}

/// A checkpoint read into memory: the model's state dict and any scalar metadata beside it.
#[derive(Debug, Clone, Default)]
pub struct Checkpoint {
    /// Float tensors by name (integer buffers such as `num_batches_tracked` are left out).
    pub state_dict: StateDict,
    /// Top-level scalar entries of a training checkpoint (`epoch`, `val_loss`, ...).
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

fn key_text(o: &Obj) -> Option<String> {
    match &*o.borrow() {
        Value::Str(s) => Some(s.clone()),
        _ => None,
    }
}

/// How many times its size a checkpoint archive may inflate to (at least [`MIN_INFLATED`]).
const MAX_INFLATION: u64 = 20;
/// What any checkpoint archive may inflate to, however small.
const MIN_INFLATED: u64 = 64 << 20;

/// Reads a `torch.save` zip archive. Accepts a bare state dict, or a training checkpoint dict
/// whose `model_state_dict` (or `state_dict`) holds it.
pub fn read_torch_zip(bytes: &[u8]) -> Result<Checkpoint, Error> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(CheckpointError::NotZip)?;
    let pkl_name = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .find(|n| n.ends_with("data.pkl"))
        .ok_or(CheckpointError::NoPickle)?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_string();
    // What the entries may inflate to, together: a crafted 70 kB archive cannot ask for
    // gigabytes (torch.save stores entries uncompressed, so real files inflate by 1×).
    let mut budget = MAX_INFLATION
        .saturating_mul(bytes.len() as u64)
        .max(MIN_INFLATED);
    let mut read_entry = |name: &str| -> Result<Vec<u8>, Error> {
        let entry = |reason: String| CheckpointError::Entry {
            entry: name.to_string(),
            reason,
        };
        let f = zip.by_name(name).map_err(|e| entry(e.to_string()))?;
        let mut v = Vec::new();
        f.take(budget.saturating_add(1))
            .read_to_end(&mut v)
            .map_err(|e| entry(e.to_string()))?;
        budget = budget
            .checked_sub(v.len() as u64)
            .ok_or_else(|| CheckpointError::Inflation {
                entry: name.to_string(),
            })?;
        Ok(v)
    };
    if let Ok(order) = read_entry(&format!("{prefix}byteorder"))
        && order != b"little"
    {
        return Err(CheckpointError::BigEndian);
    }
    let root = unpickle(&read_entry(&pkl_name)?)?;
    let mut checkpoint = Checkpoint::default();
    let mut states = None;
    {
        let root = root.borrow();
        let Value::Dict(top) = &*root else {
            return Err(CheckpointError::NotADict("checkpoint"));
        };
        for (k, v) in top {
            let Some(k) = key_text(k) else { continue };
            let value = match &*v.borrow() {
                Value::Int(n) => (*n).into(),
                Value::Bool(b) => (*b).into(),
                Value::Float(x) => {
                    serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into)
                }
                Value::Str(s) => s.clone().into(),
                Value::Dict(_) if k == "model_state_dict" || k == "state_dict" => {
                    states = Some(v.clone());
                    continue;
                }
                _ => continue,
            };
            checkpoint.metadata.insert(k, value);
        }
    }
    // A bare state dict holds the tensors at the top level.
    let states = states.unwrap_or_else(|| {
        checkpoint.metadata.clear();
        root.clone()
    });
    checkpoint.state_dict = read_states(&states, &prefix, &mut read_entry)?;
    Ok(checkpoint)
}

fn read_states(
    dict: &Obj,
    prefix: &str,
    read_entry: &mut dyn FnMut(&str) -> Result<Vec<u8>, Error>,
) -> Result<StateDict, Error> {
    let mut out = StateDict::new();
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    let Value::Dict(items) = &*dict.borrow() else {
        return Err(CheckpointError::NotADict("state dict"));
    };
    for (k, v) in items {
        let Some(name) = key_text(k) else { continue };
        let Value::Tensor {
            kind,
            key,
            offset,
            size,
            stride,
        } = &*v.borrow()
        else {
            continue;
        };
        if element(kind).is_none() {
            continue; // integer buffers such as num_batches_tracked
        }
        if !storages.contains_key(key) {
            storages.insert(key.clone(), read_entry(&format!("{prefix}data/{key}"))?);
        }
        let tensor = gather(&storages[key], kind, *offset, size, stride).map_err(|fault| {
            CheckpointError::Tensor {
                name: name.clone(),
                fault,
            }
        })?;
        out.insert(name, tensor);
    }
    if out.is_empty() {
        return Err(CheckpointError::NoFloatTensors);
    }
    Ok(out)
}

/// Reads a checkpoint file by content: the torch zip format or safetensors.
pub fn read_checkpoint(bytes: &[u8]) -> Result<Checkpoint, Error> {
    if bytes.starts_with(b"PK") {
        return read_torch_zip(bytes);
    }
    if bytes.len() > 8
        && let Ok(state_dict) = read_safetensors(bytes)
    {
        return Ok(Checkpoint {
            state_dict,
            metadata: Default::default(),
        });
    }
    Err(CheckpointError::Unrecognised)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn dicts_whose_keys_and_values_do_not_pair_are_refused() {
        // MARK, one int, DICT: a key without a value.
        let err = unpickle(b"(K\x01d.").unwrap_err();
        assert!(matches!(err, CheckpointError::PickleDictPairs(1)), "{err}");
        // EMPTY_DICT, MARK, one int, SETITEMS.
        let err = unpickle(b"}(K\x01u.").unwrap_err();
        assert!(matches!(err, CheckpointError::PickleDictPairs(1)), "{err}");
    }

    #[test]
    fn a_build_whose_state_is_its_own_target_is_refused() {
        // EMPTY_DICT, memoise it, push it again from the memo, BUILD.
        let err = unpickle(b"}q\x00h\x00b.").unwrap_err();
        assert!(matches!(err, CheckpointError::SelfBuild(_)), "{err}");
    }

    #[test]
    fn a_tensor_cannot_ask_for_more_than_its_storage() {
        let storage = [0u8; 16];
        // 2⁴⁰ elements from 16 bytes: refused before anything is allocated.
        let err = gather(&storage, "FloatStorage", 0, &[1 << 20, 1 << 20], &[1, 1]).unwrap_err();
        assert!(matches!(err, TensorFault::TooManyElements { .. }), "{err}");
        // Sizes whose product overflows.
        let err = gather(&storage, "FloatStorage", 0, &[usize::MAX, 3], &[1, 1]).unwrap_err();
        assert!(matches!(err, TensorFault::TooManyElements { .. }), "{err}");
        // Offsets and strides that would overflow the arithmetic.
        let err = gather(&storage, "FloatStorage", usize::MAX, &[1], &[1]).unwrap_err();
        assert_eq!(err, TensorFault::PastEnd);
        let err = gather(&storage, "FloatStorage", 0, &[2], &[usize::MAX]).unwrap_err();
        assert_eq!(err, TensorFault::PastEnd);
        // What fits still reads.
        let t = gather(&storage, "FloatStorage", 0, &[2, 2], &[2, 1]).unwrap();
        assert_eq!((t.shape, t.data.len()), (vec![2, 2], 4));
    }

    #[test]
    fn an_archive_that_inflates_to_gigabytes_is_refused() {
        let mut buf = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("archive/data.pkl", options).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..100 {
            zip.write_all(&zeros).unwrap();
        }
        zip.finish().unwrap();
        let bytes = buf.into_inner();
        assert!(
            bytes.len() < 1 << 20,
            "the archive is {} bytes",
            bytes.len()
        );
        let err = read_torch_zip(&bytes).unwrap_err();
        assert!(matches!(err, CheckpointError::Inflation { .. }), "{err}");
    }
}
