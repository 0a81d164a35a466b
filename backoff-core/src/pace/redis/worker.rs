//! The thread that makes a pacer's blocking calls, and how a blocking caller waits for its
//! answer.

use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

use redis::{Client, RedisResult};

use super::give_back::Giver;
use super::link::{LATE_REPLY, timed_out};
use super::scripts::{Answer, Booking};
use crate::pace::common::lock;

/// A blocking call, made by the pacer's worker thread.
pub(super) enum Job {
    Reserve {
        call: redis::ScriptInvocation<'static>,
        giver: Giver,
        hand: Arc<Hand>,
    },
    Release {
        giver: Giver,
        r: Booking,
    },
}

/// A blocking reservation's answer on its way to the caller, who waits the pacer's timeout
/// for it; the worker gives back a slot whose caller has given up.
#[derive(Default)]
pub(super) struct Hand {
    state: Mutex<Handed>,
    done: Condvar,
}

#[derive(Default)]
pub(super) enum Handed {
    #[default]
    Waiting,
    Done(RedisResult<Answer>),
    Taken,
    GaveUp,
}

impl Hand {
    /// The worker's side: `Err` with the answer when the caller has given up.
    pub(super) fn give(&self, answer: RedisResult<Answer>) -> Result<(), RedisResult<Answer>> {
        let mut state = lock(&self.state);
        if matches!(*state, Handed::GaveUp) {
            return Err(answer);
        }
        *state = Handed::Done(answer);
        self.done.notify_all();
        Ok(())
    }

    pub(super) fn gave_up(&self) -> bool {
        matches!(*lock(&self.state), Handed::GaveUp)
    }

    /// The caller's side: the answer, or a timeout (the worker then gives back what comes).
    pub(super) fn take(&self, timeout: Duration) -> RedisResult<Answer> {
        let state = lock(&self.state);
        let (mut state, _) = self
            .done
            .wait_timeout_while(state, timeout, |s| matches!(s, Handed::Waiting))
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match std::mem::replace(&mut *state, Handed::Taken) {
            Handed::Done(answer) => answer,
            _ => {
                *state = Handed::GaveUp;
                Err(timed_out())
            }
        }
    }
}

/// The worker thread: makes the blocking calls of one pacer on its own connection (a reply
/// is awaited up to [`LATE_REPLY`], so that a late one's slot goes back), until the pacer is
/// dropped.
pub(super) fn work(client: Client, timeout: Duration, jobs: mpsc::Receiver<Job>) {
    let mut con: Option<redis::Connection> = None;
    let connected = |con: &mut Option<redis::Connection>| -> RedisResult<()> {
        if con.is_none() {
            let c = client.get_connection_with_timeout(timeout)?;
            c.set_read_timeout(Some(LATE_REPLY))?;
            c.set_write_timeout(Some(timeout))?;
            *con = Some(c);
        }
        Ok(())
    };
    for job in jobs {
        match job {
            Job::Reserve { call, giver, hand } => {
                if hand.gave_up() {
                    continue; // never sent: nothing reserved
                }
                let answer = connected(&mut con).and_then(|()| match con.as_mut() {
                    Some(c) => call
                        .invoke::<Vec<i64>>(c)
                        .and_then(|reply| Answer::parse(&reply)),
                    None => Err(timed_out()),
                });
                if answer.is_err() {
                    con = None;
                }
                if let Err(Ok(Answer {
                    reserved: Some(r), ..
                })) = hand.give(answer)
                    && let Some(c) = con.as_mut()
                    && giver.give_back_blocking(c, r).is_err()
                {
                    con = None;
                }
            }
            Job::Release { giver, r } => {
                if connected(&mut con).is_err() {
                    con = None;
                    continue;
                }
                if let Some(c) = con.as_mut()
                    && giver.give_back_blocking(c, r).is_err()
                {
                    con = None;
                }
            }
        }
    }
}
