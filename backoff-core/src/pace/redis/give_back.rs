//! Giving a slot reserved in Redis back: what it needs, owned, and an answer whose caller
//! went away.

use std::sync::{Arc, Mutex};

use redis::RedisResult;
use redis::aio::ConnectionManager;

use super::link::LATE_REPLY;
use super::scripts::{Answer, Booking, at, parse_error, release_script};
use super::views::Views;
use crate::pace::common::lock;

type Instant = tokio::time::Instant;

/// What giving a slot back in Redis needs, owned: it runs in a task (or a thread) of its own.
#[derive(Clone)]
pub(super) struct Giver {
    pub(super) key: String,
    /// Where the key's suffix (the view's key) starts.
    pub(super) suffix: usize,
    pub(super) interval_us: u64,
    pub(super) tolerance_us: u64,
    pub(super) id: u64,
    pub(super) views: Arc<Mutex<Views>>,
}

impl Giver {
    pub(super) fn call(&self, r: &Booking) -> redis::ScriptInvocation<'static> {
        let mut call = release_script().key(&self.key);
        call.arg(r.slot)
            .arg(r.tat)
            .arg(r.prev)
            .arg(format!("h{:016x}-{}", self.id, r.slot))
            .arg(self.interval_us)
            .arg(self.tolerance_us);
        call
    }

    /// Notes RELEASE's reply in this process's view.
    pub(super) fn heed(&self, reply: RedisResult<Vec<i64>>) {
        if let Ok(reply) = reply
            && let &[_, now, tat] = reply.as_slice()
        {
            let here = if tat > 0 {
                at(tat, now, Instant::now())
            } else {
                Instant::now()
            };
            lock(&self.views).given_back(&self.key[self.suffix..], here, now);
        }
    }

    /// Gives `r` back (best effort: one that does not arrive errs on the slow side).
    pub(super) async fn give_back(self, mut manager: ConnectionManager, r: Booking) {
        let call = self.call(&r);
        if let Ok(reply) = tokio::time::timeout(LATE_REPLY, call.invoke_async(&mut manager)).await {
            self.heed(reply);
        }
    }

    pub(super) fn give_back_blocking(
        &self,
        con: &mut redis::Connection,
        r: Booking,
    ) -> RedisResult<()> {
        let reply = self.call(&r).invoke(con);
        let failed = reply.is_err();
        self.heed(reply);
        if failed {
            return Err(parse_error("the give-back failed"));
        }
        Ok(())
    }
}

/// A reservation's answer on its way to the caller. Dropped (the caller cancelled, or its
/// timeout fired) it takes no more and gives back a slot that arrived meanwhile.
pub(super) struct Pending {
    pub(super) rx: Option<tokio::sync::oneshot::Receiver<RedisResult<Answer>>>,
    pub(super) giver: Giver,
    pub(super) manager: ConnectionManager,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if let Ok(Ok(Answer {
                reserved: Some(r), ..
            })) = rx.try_recv()
                && let Ok(handle) = tokio::runtime::Handle::try_current()
            {
                handle.spawn(self.giver.clone().give_back(self.manager.clone(), r));
            }
        }
    }
}
