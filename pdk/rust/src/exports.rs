//! The glue the export macros expand to: each function takes the core arguments, calls the
//! plugin's function, and lays the result out as docs/abi.md says.

use crate::http::{Action, Request, Response};
use crate::HealthStatus;
use std::cell::UnsafeCell;
use std::fmt::Display;

/// A static the exports share. An instance runs one call at a time on one thread, and nothing
/// here is reached from two exports at once.
struct Slot<T>(UnsafeCell<T>);

// Safety: a WebAssembly instance of this module is single-threaded (no shared memory).
unsafe impl<T> Sync for Slot<T> {}

impl<T: Copy> Slot<T> {
    fn get(&self) -> T {
        unsafe { *self.0.get() }
    }

    fn set(&self, value: T) {
        unsafe { *self.0.get() = value }
    }
}

/// A result area: discriminant u8 at 0, pointer at 4, length at 8.
type Area = [u32; 3];

/// A buffer handed to the host, freed in `cabi_post_*`: pointer, length, capacity.
type Lent = (usize, usize, usize);

static HANDLE_AREA: Slot<Area> = Slot(UnsafeCell::new([0; 3]));
static HANDLE_LENT: Slot<Lent> = Slot(UnsafeCell::new((0, 0, 0)));
static REQUEST_BODY_AREA: Slot<Area> = Slot(UnsafeCell::new([0; 3]));
static REQUEST_BODY_LENT: Slot<Lent> = Slot(UnsafeCell::new((0, 0, 0)));
static RESPONSE_BODY_AREA: Slot<Area> = Slot(UnsafeCell::new([0; 3]));
static RESPONSE_BODY_LENT: Slot<Lent> = Slot(UnsafeCell::new((0, 0, 0)));
static INIT_AREA: Slot<Area> = Slot(UnsafeCell::new([0; 3]));
static INIT_LENT: Slot<Lent> = Slot(UnsafeCell::new((0, 0, 0)));
static PANIC_HOOK: Slot<bool> = Slot(UnsafeCell::new(false));

/// Logs a panic's message before the instance traps, so the host's log says why.
fn install_panic_hook() {
    if !PANIC_HOOK.get() {
        PANIC_HOOK.set(true);
        std::panic::set_hook(Box::new(|info| crate::log::error(&info.to_string())));
    }
}

/// Hands `bytes` to the host through `area`, remembering them in `lent` for `release`.
fn lend(area: &Slot<Area>, lent: &Slot<Lent>, is_err: bool, bytes: Vec<u8>) -> *mut u8 {
    let mut bytes = std::mem::ManuallyDrop::new(bytes);
    let (pointer, len, capacity) = (bytes.as_mut_ptr() as usize, bytes.len(), bytes.capacity());
    lent.set((pointer, len, capacity));
    area.set([u32::from(is_err), pointer as u32, len as u32]);
    area.0.get() as *mut u8
}

/// Frees what `lend` handed over, once.
fn release(lent: &Slot<Lent>) {
    let (pointer, len, capacity) = lent.get();
    lent.set((0, 0, 0));
    if capacity != 0 {
        unsafe { drop(Vec::from_raw_parts(pointer as *mut u8, len, capacity)) }
    }
}

/// `handle(ptr, len) -> retptr`.
///
/// # Safety
///
/// Called from the `handle` export with the input the host allocated (or 0, 0).
pub unsafe fn handle<F, O, E>(input: *mut u8, len: usize, function: F) -> *mut u8
where
    F: FnOnce(Vec<u8>) -> Result<O, E>,
    O: Into<Vec<u8>>,
    E: Display,
{
    install_panic_hook();
    // A host that skipped cabi_post_handle after the last call leaves its output here.
    release(&HANDLE_LENT);
    let input = crate::abi::take_bytes(input as u32, len as u32);
    match function(input) {
        Ok(output) => lend(&HANDLE_AREA, &HANDLE_LENT, false, output.into()),
        Err(error) => lend(&HANDLE_AREA, &HANDLE_LENT, true, error.to_string().into_bytes()),
    }
}

/// `cabi_post_handle(retptr)`.
///
/// # Safety
///
/// Called from the `cabi_post_handle` export.
pub unsafe fn post_handle(_area: *mut u8) {
    release(&HANDLE_LENT);
}

/// `on-request` and `on-response`: `(request, response) -> action`.
///
/// # Safety
///
/// Called from a hook export with the handles the host passed.
pub unsafe fn filter_hook<F>(request: u32, response: u32, function: F) -> u32
where
    F: FnOnce(&Request, &Response) -> Action,
{
    install_panic_hook();
    match function(&Request::new(request), &Response::new(response)) {
        Action::Continue => 0,
        Action::Respond => 1,
    }
}

/// Answers a body hook: `none` (discriminant 0) forwards the chunk unchanged; `some(bytes)`
/// (discriminant 1) lends the bytes to the host until `cabi_post_*`.
fn body_answer(area: &Slot<Area>, lent: &Slot<Lent>, answer: Option<Vec<u8>>) -> *mut u8 {
    match answer {
        None => {
            area.set([0, 0, 0]);
            area.0.get() as *mut u8
        }
        // `lend` writes its flag as the discriminant: 1 is `some` here.
        Some(bytes) => lend(area, lent, true, bytes),
    }
}

/// `on-request-body(request, ptr, len, end) -> retptr`.
///
/// # Safety
///
/// Called from the `on-request-body` export with the handle and the chunk the host allocated
/// (or 0, 0).
pub unsafe fn request_body<F>(request: u32, chunk: *mut u8, len: usize, end: u32, function: F) -> *mut u8
where
    F: FnOnce(&Request, Vec<u8>, bool) -> Option<Vec<u8>>,
{
    install_panic_hook();
    // A host that skipped cabi_post_on-request-body after the last call leaves its answer here.
    release(&REQUEST_BODY_LENT);
    let chunk = crate::abi::take_bytes(chunk as u32, len as u32);
    let answer = function(&Request::new(request), chunk, end != 0);
    body_answer(&REQUEST_BODY_AREA, &REQUEST_BODY_LENT, answer)
}

/// `cabi_post_on-request-body(retptr)`.
///
/// # Safety
///
/// Called from the `cabi_post_on-request-body` export.
pub unsafe fn post_request_body(_area: *mut u8) {
    release(&REQUEST_BODY_LENT);
}

/// `on-response-body(request, response, ptr, len, end) -> retptr`.
///
/// # Safety
///
/// Called from the `on-response-body` export with the handles and the chunk the host allocated
/// (or 0, 0).
pub unsafe fn response_body<F>(request: u32, response: u32, chunk: *mut u8, len: usize, end: u32, function: F) -> *mut u8
where
    F: FnOnce(&Request, &Response, Vec<u8>, bool) -> Option<Vec<u8>>,
{
    install_panic_hook();
    release(&RESPONSE_BODY_LENT);
    let chunk = crate::abi::take_bytes(chunk as u32, len as u32);
    let answer = function(&Request::new(request), &Response::new(response), chunk, end != 0);
    body_answer(&RESPONSE_BODY_AREA, &RESPONSE_BODY_LENT, answer)
}

/// `cabi_post_on-response-body(retptr)`.
///
/// # Safety
///
/// Called from the `cabi_post_on-response-body` export.
pub unsafe fn post_response_body(_area: *mut u8) {
    release(&RESPONSE_BODY_LENT);
}

/// `init() -> retptr`.
///
/// # Safety
///
/// Called from the `init` export.
pub unsafe fn init<F, E>(function: F) -> *mut u8
where
    F: FnOnce() -> Result<(), E>,
    E: Display,
{
    install_panic_hook();
    release(&INIT_LENT);
    match function() {
        Ok(()) => lend(&INIT_AREA, &INIT_LENT, false, Vec::new()),
        Err(error) => lend(&INIT_AREA, &INIT_LENT, true, error.to_string().into_bytes()),
    }
}

/// `cabi_post_init(retptr)`.
///
/// # Safety
///
/// Called from the `cabi_post_init` export.
pub unsafe fn post_init(_area: *mut u8) {
    release(&INIT_LENT);
}

/// `health() -> health-status`.
///
/// # Safety
///
/// Called from the `health` export.
pub unsafe fn health<F>(function: F) -> u32
where
    F: FnOnce() -> HealthStatus,
{
    install_panic_hook();
    match function() {
        HealthStatus::Healthy => 0,
        HealthStatus::Degraded => 1,
        HealthStatus::Unhealthy => 2,
    }
}

/// `shutdown()`.
///
/// # Safety
///
/// Called from the `shutdown` export.
pub unsafe fn shutdown<F>(function: F)
where
    F: FnOnce(),
{
    install_panic_hook();
    function()
}
