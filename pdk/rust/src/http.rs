//! The request and response a gateway filter sees: the `http` interface and the
//! `http-filter` world's `action`. Always allowed.
//!
//! Both are resources owned by the host: a method asks the host for one thing (a header, the
//! path) and copies only that into the plugin's memory; a setter edits the host's message in
//! place, which is why setters take `&self`. A hook receives them by reference, borrowed for
//! that one `on-request` or `on-response` call, and cannot keep them.
//!
//! Header names are compared case-insensitively. Names and values must be valid HTTP: a setter
//! given a name that is not a token, or a value with a line break or other control character,
//! returns `false` and changes nothing.

use crate::abi::RetArea;
use crate::ErrorCode;

/// What the gateway does after a hook: the WIT `action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Go on with the (possibly edited) message.
    Continue,
    /// In `on-request`: answer with the response now; the upstream is not called, the
    /// response filters still run. In `on-response`: the same as `Continue`.
    Respond,
}

#[link(wasm_import_module = "jester:plugin/http@0.1.0")]
extern "C" {
    #[link_name = "[method]request.method"]
    fn request_method(this: u32, ret: *mut u8);
    #[link_name = "[method]request.set-method"]
    fn request_set_method(this: u32, ptr: *const u8, len: usize) -> i32;
    #[link_name = "[method]request.path"]
    fn request_path(this: u32, ret: *mut u8);
    #[link_name = "[method]request.set-path"]
    fn request_set_path(this: u32, ptr: *const u8, len: usize) -> i32;
    #[link_name = "[method]request.query"]
    fn request_query(this: u32, ret: *mut u8);
    #[link_name = "[method]request.set-query"]
    fn request_set_query(this: u32, ptr: *const u8, len: usize) -> i32;
    #[link_name = "[method]request.client-address"]
    fn request_client_address(this: u32, ret: *mut u8);
    #[link_name = "[method]request.header"]
    fn request_header(this: u32, name: *const u8, name_len: usize, ret: *mut u8);
    #[link_name = "[method]request.header-values"]
    fn request_header_values(this: u32, name: *const u8, name_len: usize, ret: *mut u8);
    #[link_name = "[method]request.header-names"]
    fn request_header_names(this: u32, ret: *mut u8);
    #[link_name = "[method]request.set-header"]
    fn request_set_header(this: u32, name: *const u8, name_len: usize, value: *const u8, value_len: usize) -> i32;
    #[link_name = "[method]request.add-header"]
    fn request_add_header(this: u32, name: *const u8, name_len: usize, value: *const u8, value_len: usize) -> i32;
    #[link_name = "[method]request.remove-header"]
    fn request_remove_header(this: u32, name: *const u8, name_len: usize);
    #[link_name = "[method]request.body"]
    fn request_body(this: u32, ret: *mut u8);
    #[link_name = "[method]request.set-body"]
    fn request_set_body(this: u32, ptr: *const u8, len: usize);

    #[link_name = "[method]response.status"]
    fn response_status(this: u32) -> i32;
    #[link_name = "[method]response.set-status"]
    fn response_set_status(this: u32, status: i32) -> i32;
    #[link_name = "[method]response.header"]
    fn response_header(this: u32, name: *const u8, name_len: usize, ret: *mut u8);
    #[link_name = "[method]response.header-values"]
    fn response_header_values(this: u32, name: *const u8, name_len: usize, ret: *mut u8);
    #[link_name = "[method]response.header-names"]
    fn response_header_names(this: u32, ret: *mut u8);
    #[link_name = "[method]response.set-header"]
    fn response_set_header(this: u32, name: *const u8, name_len: usize, value: *const u8, value_len: usize) -> i32;
    #[link_name = "[method]response.add-header"]
    fn response_add_header(this: u32, name: *const u8, name_len: usize, value: *const u8, value_len: usize) -> i32;
    #[link_name = "[method]response.remove-header"]
    fn response_remove_header(this: u32, name: *const u8, name_len: usize);
    #[link_name = "[method]response.body"]
    fn response_body(this: u32, ret: *mut u8);
    #[link_name = "[method]response.set-body"]
    fn response_set_body(this: u32, ptr: *const u8, len: usize);
}

/// Calls a `func(self) -> string` import.
fn string(this: u32, import: unsafe extern "C" fn(u32, *mut u8)) -> String {
    let mut area = RetArea::new();
    unsafe {
        import(this, area.as_mut_ptr());
        area.string(0)
    }
}

/// Calls a `func(self) -> result<list<u8>, error-code>` import.
fn body(this: u32, import: unsafe extern "C" fn(u32, *mut u8)) -> Result<Vec<u8>, ErrorCode> {
    let mut area = RetArea::new();
    unsafe {
        import(this, area.as_mut_ptr());
        area.result_bytes()
    }
}

/// The header methods, which requests and responses share, over each one's imports.
macro_rules! header_methods {
    ($header:ident, $values:ident, $names:ident, $set:ident, $add:ident, $remove:ident) => {
        /// The first value of header `name`, if it is present.
        pub fn header(&self, name: &str) -> Option<String> {
            let mut area = RetArea::new();
            unsafe {
                $header(self.handle, name.as_ptr(), name.len(), area.as_mut_ptr());
                area.option_string()
            }
        }

        /// Every value of header `name`, in order (empty when it is absent).
        pub fn header_values(&self, name: &str) -> Vec<String> {
            let mut area = RetArea::new();
            unsafe {
                $values(self.handle, name.as_ptr(), name.len(), area.as_mut_ptr());
                area.strings(0)
            }
        }

        /// The name of every header, lower-case, in order, each once.
        pub fn header_names(&self) -> Vec<String> {
            let mut area = RetArea::new();
            unsafe {
                $names(self.handle, area.as_mut_ptr());
                area.strings(0)
            }
        }

        /// Sets header `name` to `value`, replacing every value it had; `false` (and nothing
        /// changed) if the name or value is not valid HTTP.
        pub fn set_header(&self, name: &str, value: &str) -> bool {
            unsafe { $set(self.handle, name.as_ptr(), name.len(), value.as_ptr(), value.len()) != 0 }
        }

        /// Adds `value` to header `name`, keeping the values it had; `false` if invalid.
        pub fn add_header(&self, name: &str, value: &str) -> bool {
            unsafe { $add(self.handle, name.as_ptr(), name.len(), value.as_ptr(), value.len()) != 0 }
        }

        /// Removes every value of header `name` (one that is absent is fine).
        pub fn remove_header(&self, name: &str) {
            unsafe { $remove(self.handle, name.as_ptr(), name.len()) }
        }
    };
}

/// An HTTP request on its way to the upstream, borrowed for one hook call.
#[derive(Debug)]
pub struct Request {
    handle: u32,
}

impl Request {
    pub(crate) fn new(handle: u32) -> Request {
        Request { handle }
    }

    /// The method, upper-case (`GET`).
    pub fn method(&self) -> String {
        string(self.handle, request_method)
    }

    /// Replaces the method; `false` if it is not a valid token.
    pub fn set_method(&self, method: &str) -> bool {
        unsafe { request_set_method(self.handle, method.as_ptr(), method.len()) != 0 }
    }

    /// The path, without the query (`/api/users`).
    pub fn path(&self) -> String {
        string(self.handle, request_path)
    }

    /// Replaces the path (it must start with `/`; the query is separate); `false` if it is not
    /// a valid path.
    pub fn set_path(&self, path: &str) -> bool {
        unsafe { request_set_path(self.handle, path.as_ptr(), path.len()) != 0 }
    }

    /// The query without the `?` (`a=1&b=2`), empty when there is none.
    pub fn query(&self) -> String {
        string(self.handle, request_query)
    }

    /// Replaces the query (without `?`; empty removes it); `false` if it holds a space, `#` or
    /// a control character.
    pub fn set_query(&self, query: &str) -> bool {
        unsafe { request_set_query(self.handle, query.as_ptr(), query.len()) != 0 }
    }

    /// The client's IP address (`203.0.113.7`, `::1`).
    pub fn client_address(&self) -> String {
        string(self.handle, request_client_address)
    }

    header_methods!(
        request_header,
        request_header_values,
        request_header_names,
        request_set_header,
        request_add_header,
        request_remove_header
    );

    /// The whole body, when the manifest asked for request bodies to be buffered
    /// (`http_filter.buffer_request_body`); [`ErrorCode::Unavailable`] otherwise,
    /// [`ErrorCode::LimitExceeded`] when it was larger than `http_filter.max_body_bytes`.
    pub fn body(&self) -> Result<Vec<u8>, ErrorCode> {
        body(self.handle, request_body)
    }

    /// Replaces the body (the gateway sets `content-length`). Without buffering, the body the
    /// client sends is dropped and this one is sent instead.
    pub fn set_body(&self, body: &[u8]) {
        unsafe { request_set_body(self.handle, body.as_ptr(), body.len()) }
    }
}

/// An HTTP response, borrowed for one hook call: the upstream's in `on-response`, or in
/// `on-request` a fresh one (status 200, no headers, empty body) that is sent instead of calling
/// the upstream when the hook returns [`Action::Respond`].
#[derive(Debug)]
pub struct Response {
    handle: u32,
}

impl Response {
    pub(crate) fn new(handle: u32) -> Response {
        Response { handle }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        unsafe { response_status(self.handle) as u16 }
    }

    /// Replaces the status code; `false` unless it is 100 to 999.
    pub fn set_status(&self, status: u16) -> bool {
        unsafe { response_set_status(self.handle, i32::from(status)) != 0 }
    }

    header_methods!(
        response_header,
        response_header_values,
        response_header_names,
        response_set_header,
        response_add_header,
        response_remove_header
    );

    /// The whole body, when the manifest asked for response bodies to be buffered
    /// (`http_filter.buffer_response_body`), or in `on-request` what [`set_body`](Self::set_body)
    /// set; errors as for [`Request::body`].
    pub fn body(&self) -> Result<Vec<u8>, ErrorCode> {
        body(self.handle, response_body)
    }

    /// Replaces the body (the gateway sets `content-length`).
    pub fn set_body(&self, body: &[u8]) {
        unsafe { response_set_body(self.handle, body.as_ptr(), body.len()) }
    }
}
