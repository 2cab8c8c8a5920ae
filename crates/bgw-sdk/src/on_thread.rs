//! A blocking call to the host awaited as a future, without a runtime: the first poll starts a helper thread that
//! makes the call; the thread stores the result and wakes the last waker the future was polled with.
//!
//! Runs in any process of the host that uses the SDK (a worker, a backend's module code). The one-latch rule of
//! the host's waits applies to the calls made here: see `Handle`'s module docs. Used by the handle's awaitable
//! waits ([`crate::Handle::startup`] and the others) and by `register_dynamic_wait_async`.

use crate::Error;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// What the helper thread and the future share.
struct Shared<T> {
    result: Option<T>,
    waker: Option<Waker>,
}

/// A call made on a helper thread from the first poll on.
pub(crate) struct OnThread<T> {
    name: &'static str,
    call: Option<Box<dyn FnOnce() -> T + Send>>,
    shared: Option<Arc<Mutex<Shared<T>>>>,
}

impl<T: Send + 'static> OnThread<T> {
    /// `call` runs on a thread named `name` once this is first polled.
    pub(crate) fn new(name: &'static str, call: impl FnOnce() -> T + Send + 'static) -> OnThread<T> {
        OnThread { name, call: Some(Box::new(call)), shared: None }
    }

    /// Whether the helper thread was started.
    pub(crate) fn started(&self) -> bool {
        self.shared.is_some()
    }

    /// Ready with the call's result once the thread has made it; an error if the thread could not be started or
    /// the result was already taken.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, Error>> {
        if let Some(shared) = &self.shared {
            let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(r) = s.result.take() {
                return Poll::Ready(Ok(r));
            }
            match &s.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => s.waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        let Some(call) = self.call.take() else {
            return Poll::Ready(Err(Error::Thread("polled after completion".into())));
        };
        let shared = Arc::new(Mutex::new(Shared { result: None, waker: Some(cx.waker().clone()) }));
        let theirs = Arc::clone(&shared);
        let spawned = std::thread::Builder::new().name(self.name.into()).spawn(move || {
            let result = call();
            let waker = {
                let mut s = theirs.lock().unwrap_or_else(|e| e.into_inner());
                s.result = Some(result);
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        match spawned {
            Ok(_) => {
                self.shared = Some(shared);
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(Error::Thread(e.to_string()))),
        }
    }
}
