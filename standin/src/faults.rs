//! Faults drawn at random, with a seed, for each message request.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// One kind of fault and the probability that a message request meets it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// `accept-then-drop=P`: the message is processed (sent on), then the connection is reset
    /// before the reply: the client cannot tell whether it was sent.
    AcceptThenDrop(f64),
    /// `slow=P:SECONDS`: the message is processed, then the reply waits `SECONDS`.
    Slow(f64, Duration),
    /// `reset=P`: the connection is reset before anything is processed.
    Reset(f64),
    /// `500=P`: `500 Internal Server Error`, nothing processed.
    Status500(f64),
    /// `503=P`: `503 Service Unavailable` with `Retry-After: 1`, nothing processed.
    Status503(f64),
}

impl Fault {
    /// Its probability.
    pub fn probability(&self) -> f64 {
        match *self {
            Fault::AcceptThenDrop(p)
            | Fault::Slow(p, _)
            | Fault::Reset(p)
            | Fault::Status500(p)
            | Fault::Status503(p) => p,
        }
    }
}

/// A probability: `0.3` or `30%`.
fn probability(text: &str) -> Result<f64, String> {
    let (number, scale) = match text.strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (text, 1.0),
    };
    let p = number
        .trim()
        .parse::<f64>()
        .map_err(|e| format!("{text:?} is not a probability: {e}"))?
        / scale;
    if (0.0..=1.0).contains(&p) {
        Ok(p)
    } else {
        Err(format!(
            "{text:?} is not a probability from 0 to 1 (or 0% to 100%)"
        ))
    }
}

impl FromStr for Fault {
    type Err = String;

    /// `accept-then-drop=P`, `slow=P:SECONDS`, `reset=P`, `500=P`, `503=P`; `P` is `0.3`
    /// or `30%`.
    fn from_str(spec: &str) -> Result<Self, String> {
        let (kind, value) = spec.split_once('=').ok_or_else(|| {
            format!("fault {spec:?}: expected KIND=P, e.g. accept-then-drop=0.3 or slow=0.1:12")
        })?;
        let fault = match kind.trim() {
            "accept-then-drop" => Fault::AcceptThenDrop(probability(value)?),
            "slow" => {
                let (p, secs) = value
                    .split_once(':')
                    .ok_or_else(|| format!("fault {spec:?}: expected slow=P:SECONDS"))?;
                let secs: f64 = secs
                    .trim()
                    .parse()
                    .map_err(|e| format!("fault {spec:?}: {secs:?} is not seconds: {e}"))?;
                let wait = Duration::try_from_secs_f64(secs)
                    .map_err(|e| format!("fault {spec:?}: {secs:?} is not seconds: {e}"))?;
                Fault::Slow(probability(p)?, wait)
            }
            "reset" => Fault::Reset(probability(value)?),
            "500" => Fault::Status500(probability(value)?),
            "503" => Fault::Status503(probability(value)?),
            other => {
                return Err(format!(
                    "fault {spec:?}: unknown kind {other:?} (accept-then-drop, slow, reset, 500, 503)"
                ));
            }
        };
        Ok(fault)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::AcceptThenDrop(p) => write!(f, "accept-then-drop={p}"),
            Fault::Slow(p, wait) => write!(f, "slow={p}:{}", wait.as_secs_f64()),
            Fault::Reset(p) => write!(f, "reset={p}"),
            Fault::Status500(p) => write!(f, "500={p}"),
            Fault::Status503(p) => write!(f, "503={p}"),
        }
    }
}

/// The faults a stand-in injects, and the seed of the draws.
///
/// Each message request draws one number: the faults take consecutive bands of `[0, 1)` in the
/// order given, so `accept-then-drop=0.3` and `500=0.1` mean 30 % of requests dropped after
/// processing, 10 % answered 500, 60 % served normally. The probabilities must add up to at
/// most 1.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    faults: Vec<Fault>,
    /// The seed of the draws.
    pub seed: u64,
}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Faults::default()
    }

    /// These faults, drawn from `seed`; fails when the probabilities add up to more than 1.
    pub fn new(faults: Vec<Fault>, seed: u64) -> Result<Self, String> {
        let total: f64 = faults.iter().map(Fault::probability).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!(
                "the fault probabilities add up to {total}, more than 1"
            ));
        }
        Ok(Faults { faults, seed })
    }

    /// The faults, in their order.
    pub fn list(&self) -> &[Fault] {
        &self.faults
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.faults.iter().all(|f| f.probability() == 0.0)
    }

    pub(crate) fn dice(&self) -> Dice {
        Dice {
            faults: self.faults.clone(),
            rng: StdRng::seed_from_u64(self.seed),
        }
    }
}

/// The seeded draws.
pub(crate) struct Dice {
    faults: Vec<Fault>,
    rng: StdRng,
}

impl Dice {
    /// The fault this request meets, if any.
    pub(crate) fn draw(&mut self) -> Option<Fault> {
        if self.faults.is_empty() {
            return None;
        }
        let x: f64 = self.rng.random();
        let mut upto = 0.0;
        for fault in &self.faults {
            upto += fault.probability();
            if x < upto {
                return Some(*fault);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert_eq!(
            "accept-then-drop=0.3".parse(),
            Ok(Fault::AcceptThenDrop(0.3))
        );
        assert_eq!(
            "slow=10%:12".parse(),
            Ok(Fault::Slow(0.1, Duration::from_secs(12)))
        );
        assert_eq!("reset=0.05".parse(), Ok(Fault::Reset(0.05)));
        assert_eq!("500=0.1".parse(), Ok(Fault::Status500(0.1)));
        assert_eq!("503=1".parse(), Ok(Fault::Status503(1.0)));
        for bad in [
            "reset",
            "reset=1.5",
            "reset=-0.1",
            "reset=NaN",
            "slow=0.1",
            "slow=0.1:-3",
            "slow=0.1:1e300",
            "teapot=0.1",
        ] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
    }

    #[test]
    fn probabilities_may_not_exceed_one() {
        let f = |s: &str| s.parse::<Fault>().unwrap();
        assert!(Faults::new(vec![f("reset=0.6"), f("500=0.5")], 1).is_err());
        assert!(Faults::new(vec![f("reset=0.5"), f("500=0.5")], 1).is_ok());
    }

    #[test]
    fn draws_follow_the_bands_and_the_seed() {
        let faults =
            Faults::new(vec![Fault::AcceptThenDrop(0.3), Fault::Status500(0.1)], 42).unwrap();
        let draws: Vec<_> = {
            let mut dice = faults.dice();
            (0..10_000).map(|_| dice.draw()).collect()
        };
        let count = |want: Option<Fault>| draws.iter().filter(|d| **d == want).count();
        assert!((2_800..3_200).contains(&count(Some(Fault::AcceptThenDrop(0.3)))));
        assert!((850..1_150).contains(&count(Some(Fault::Status500(0.1)))));
        assert!((5_800..6_200).contains(&count(None)));
        let again: Vec<_> = {
            let mut dice = faults.dice();
            (0..10_000).map(|_| dice.draw()).collect()
        };
        assert_eq!(draws, again, "same seed, same draws");
        assert_eq!(Faults::none().dice().draw(), None);
    }
}
