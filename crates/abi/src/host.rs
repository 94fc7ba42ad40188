//! The module's view of its host: effects requested during a callback.

use std::marker::PhantomData;
use std::time::Duration;

use crate::codec::encode;
use crate::ffi::{effect, level, Bytes, HostCtx, RStr, Status};
use crate::module::Interface;

/// The host, as a module's callback sees it. Every effect is carried out by the host's runtime
/// once the callback returns; logging goes to the host's `tracing` subscriber at once.
#[allow(missing_debug_implementations)]
pub struct Host<'a, I: Interface> {
    ctx: &'a HostCtx,
    _interface: PhantomData<I>,
}

impl<'a, I: Interface> Host<'a, I> {
    /// Wrap the host context of one callback.
    ///
    /// # Safety
    ///
    /// `ctx` must be the context the loader passed to this callback, and its `api` a valid
    /// [`HostApi`](crate::HostApi) table.
    pub unsafe fn from_ctx(ctx: &'a HostCtx) -> Self {
        Host {
            ctx,
            _interface: PhantomData,
        }
    }

    fn log(&mut self, lvl: u32, msg: &str) {
        // SAFETY: the context and its table come from the loader for this callback
        // (`from_ctx`'s contract); the message outlives the call.
        unsafe { ((*self.ctx.api).log)(self.ctx.cx, lvl, RStr::new(msg)) }
    }

    fn effect(&mut self, kind: u32, delay: Duration, target: &str, payload: &[u8]) -> bool {
        let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        // SAFETY: as in `log`; the payload and target outlive the call.
        let status = unsafe {
            ((*self.ctx.api).effect)(
                self.ctx.cx,
                kind,
                delay_ms,
                RStr::new(target),
                Bytes::new(payload),
            )
        };
        status == Status::OK
    }

    /// Log at error level through the host's subscriber.
    pub fn error(&mut self, msg: &str) {
        self.log(level::ERROR, msg);
    }

    /// Log at warn level.
    pub fn warn(&mut self, msg: &str) {
        self.log(level::WARN, msg);
    }

    /// Log at info level.
    pub fn info(&mut self, msg: &str) {
        self.log(level::INFO, msg);
    }

    /// Log at debug level.
    pub fn debug(&mut self, msg: &str) {
        self.log(level::DEBUG, msg);
    }

    /// Cast `message` to this process (handled after the current callback and whatever is
    /// already queued).
    pub fn cast_self(&mut self, message: &I::Cast) -> bool {
        encode(message).is_ok_and(|b| self.effect(effect::CAST_SELF, Duration::ZERO, "", &b))
    }

    /// Cast `message` to this process after `delay` (a host timer: `send_after`).
    pub fn cast_self_after(&mut self, delay: Duration, message: &I::Cast) -> bool {
        encode(message).is_ok_and(|b| self.effect(effect::CAST_SELF_AFTER, delay, "", &b))
    }

    /// Cast `message` to the process of this module registered as `name`.
    pub fn cast_named(&mut self, name: &str, message: &I::Cast) -> bool {
        encode(message).is_ok_and(|b| self.effect(effect::CAST_NAMED, Duration::ZERO, name, &b))
    }

    /// Start another process of this module (on the host's current version of it), under the
    /// module's own dynamic supervisor.
    pub fn spawn(&mut self, args: &I::Args) -> bool {
        encode(args).is_ok_and(|b| self.effect(effect::SPAWN, Duration::ZERO, "", &b))
    }
}
