//! [`RetryBudget`] as tower's `retry::budget::Budget`, so a `tower::retry::Policy` of one's
//! own draws on the same budget as the attribute, the builder and the middleware.

use crate::budget::RetryBudget;

/// A call's first attempt deposits, each retry withdraws, as with
/// [`Backoff::budget`](crate::Backoff::budget): share one `RetryBudget` between a tower
/// policy and the rest of a program to bound their retries together.
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
impl tower::retry::budget::Budget for RetryBudget {
    fn deposit(&self) {
        RetryBudget::deposit(self);
    }

    fn withdraw(&self) -> bool {
        RetryBudget::withdraw(self)
    }
}
