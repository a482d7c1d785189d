//! The engine worker's entry: the page starts it (`web/src/engine.rs`) when a score first
//! needs the network.

// Static constructors (the `inventory` registrations of burn's GPU compiler) run once, here.
// Without an explicit call, wasm-ld links the module as a "command" and runs every
// constructor again at the start of every call from JavaScript into it (each message, each
// promise a future waits on): tens of milliseconds each.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

fn main() {
    #[cfg(target_arch = "wasm32")]
    #[allow(unsafe_code)]
    // SAFETY: the linker's constructor function, called once, first, before any code that
    // reads what the constructors register.
    unsafe {
        __wasm_call_ctors();
    }
    mimimi_engine::worker::start();
}
