//! Programs that only keep a container alive (`sleep infinity`, `top`, an idle shell), and
//! one that dies at once with a message (an app whose configuration it rejects).

use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::SocketEvent;

pub struct Idle {
    name: String,
}

impl Idle {
    pub fn new(name: &str) -> Self {
        Idle { name: name.to_string() }
    }
}

impl Process for Idle {
    fn name(&self) -> &str {
        &self.name
    }
    fn on_start(&mut self, _cx: &mut ProcCtx) {}
    fn on_socket(&mut self, _cx: &mut ProcCtx, _event: SocketEvent) {}
}

/// A program that prints `message` and exits with `code` as soon as it starts.
pub struct Crashed {
    name: String,
    message: String,
    code: i32,
}

impl Crashed {
    pub fn new(name: &str, message: &str, code: i32) -> Self {
        Crashed { name: name.to_string(), message: message.to_string(), code }
    }
}

impl Process for Crashed {
    fn name(&self) -> &str {
        &self.name
    }
    fn on_start(&mut self, cx: &mut ProcCtx) {
        cx.println(&self.message);
        cx.exit(self.code);
    }
    fn on_socket(&mut self, _cx: &mut ProcCtx, _event: SocketEvent) {}
}
