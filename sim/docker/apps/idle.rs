//! Programs that only keep a container alive: `sleep infinity`, `top`, an idle shell.

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
