use backoff::{Feedback, Pacer, RateFeedback, backoff};
#[derive(Debug)]
struct Sent;
#[derive(Debug)]
struct Refused;
impl RateFeedback for Sent {
    fn feedback(&self) -> Feedback {
        Feedback::accepted()
    }
}
impl RateFeedback for Refused {
    fn feedback(&self) -> Feedback {
        Feedback::throttled()
    }
}
async fn deliver(_from: &str) -> Result<Sent, Refused> {
    Ok(Sent)
}
/// One learned rate per sender: every attempt's outcome tells the pacer how it went (the
/// output is `RateFeedback`) before it is judged; the key is computed once per attempt.
async fn send(from: &str) -> Result<Sent, Refused> {
    let mut __backoff_state = ::backoff::__private::Run::<
        _,
        _,
        ::backoff::__private::Queued,
    >::new(0u32);
    static __BACKOFF_PACER: ::backoff::__private::OnceLock<
        ::backoff::__private::Pacer,
    > = ::backoff::__private::OnceLock::new();
    let __backoff_pacer: &::backoff::__private::Pacer = __BACKOFF_PACER
        .get_or_init(|| { ::backoff::__private::Pacer::adaptive() });
    loop {
        let __backoff_key = {
            #[allow(unused_imports)]
            use ::backoff::__private::{KeyViaDisplay as _, KeyViaStr as _};
            (&::backoff::__private::PaceKey(&from)).__backoff_key()
        };
        __backoff_state
            .add_queued(
                __backoff_pacer
                    .ready(::core::option::Option::Some(&*__backoff_key))
                    .await,
            );
        let __backoff_sent = ::backoff::__private::Pacer::now();
        let __backoff_wait = {
            let __backoff_outcome = {
                async move {
                    #[allow(
                        unknown_lints,
                        unreachable_code,
                        clippy::diverging_sub_expression,
                        clippy::empty_loop,
                        clippy::let_unit_value
                    )]
                    if false {
                        let __backoff_fake_return: Result<Sent, Refused> = loop {};
                        return __backoff_fake_return;
                    }
                    deliver(from).await
                }
            }
                .await;
            __backoff_pacer
                .observe(
                    ::core::option::Option::Some(&*__backoff_key),
                    &::backoff::__private::feedback_of::<
                        Result<Sent, Refused>,
                    >(&__backoff_outcome),
                    __backoff_sent,
                );
            #[allow(clippy::needless_update)]
            let (__backoff_elapsed, __backoff_action) = {
                let __backoff_verdict = ::backoff::__private::judge_default::<
                    Result<Sent, Refused>,
                >(&__backoff_outcome);
                if __backoff_state
                    .settle(::core::option::Option::None, __backoff_verdict)
                {
                    return __backoff_outcome;
                }
                let __backoff_elapsed = ::core::time::Duration::ZERO;
                #[allow(unused_imports)]
                use ::backoff::__private::{ViaDebug as _, ViaOpaque as _};
                let __backoff_action = __backoff_state
                    .fail(
                        || (
                            ::backoff::__private::Rules {
                                max_tries: ::core::option::Option::Some(
                                    ::backoff::__private::tries(5),
                                ),
                                ..::backoff::__private::Rules::new("send")
                            },
                            ::backoff::__private::expo(
                                2,
                                1,
                                ::core::option::Option::None,
                            ),
                        ),
                        &::backoff::__private::jitters::Full,
                        &__backoff_outcome,
                        __backoff_verdict,
                        || __backoff_elapsed,
                        &(&::backoff::__private::Describe(&__backoff_outcome))
                            .__backoff_describe(),
                        |__backoff_of| ::core::option::Option::None,
                    );
                (__backoff_elapsed, __backoff_action)
            };
            match __backoff_action {
                ::backoff::__private::Action::Backoff(__backoff_wait) => __backoff_wait,
                _ => {
                    return __backoff_outcome;
                }
            }
        };
        ::backoff::__private::async_sleep(__backoff_wait).await;
    }
}
struct Client {
    pacer: Pacer,
}
impl Client {
    /// The client's own pacer, told by a closure what the output means.
    fn ping(&self) -> bool {
        let mut __backoff_state = ::backoff::__private::Run::<
            _,
            _,
            ::backoff::__private::Queued,
        >::new(());
        let __backoff_pacer = &self.pacer;
        let __backoff_pacer: &::backoff::__private::Pacer = ::backoff::__private::pacer(
            __backoff_pacer,
        );
        loop {
            __backoff_state
                .add_queued(
                    __backoff_pacer.ready_blocking(::core::option::Option::None),
                );
            let __backoff_sent = ::backoff::__private::Pacer::now();
            let __backoff_wait = {
                let mut __backoff_outcome = {
                    #[allow(clippy::redundant_closure_call)]
                    (move || {
                        #[allow(
                            unknown_lints,
                            unreachable_code,
                            clippy::diverging_sub_expression,
                            clippy::empty_loop,
                            clippy::let_unit_value
                        )]
                        if false {
                            let __backoff_fake_return: bool = loop {};
                            return __backoff_fake_return;
                        }
                        true
                    })()
                };
                __backoff_pacer
                    .observe(
                        ::core::option::Option::None,
                        &{
                            let __backoff_f: &mut dyn ::core::ops::FnMut(&bool) -> _ = &mut |
                                ok: &bool|
                            {
                                if *ok {
                                    Feedback::accepted()
                                } else {
                                    Feedback::throttled()
                                }
                            };
                            ::backoff::__private::observe_with(
                                &__backoff_outcome,
                                __backoff_f,
                            )
                        },
                        __backoff_sent,
                    );
                #[allow(clippy::needless_update)]
                let (__backoff_action, __backoff_line) = {
                    let __backoff_verdict = ::backoff::__private::judge_default::<
                        bool,
                    >(&__backoff_outcome);
                    if __backoff_state
                        .settle(::core::option::Option::None, __backoff_verdict)
                    {
                        return __backoff_outcome;
                    }
                    __backoff_state
                        .fail_later(
                            || (
                                ::backoff::__private::Rules {
                                    max_tries: ::core::option::Option::Some(
                                        ::backoff::__private::tries(3),
                                    ),
                                    ..::backoff::__private::Rules::new("ping")
                                },
                                ::backoff::__private::Constant::new(
                                    ::backoff::__private::secs(1),
                                ),
                            ),
                            &::backoff::__private::jitters::Full,
                            &__backoff_outcome,
                            __backoff_verdict,
                            || ::core::time::Duration::ZERO,
                            |__backoff_of| ::core::option::Option::None,
                        )
                };
                if let ::core::option::Option::Some(__backoff_line) = __backoff_line {
                    #[allow(unused_imports)]
                    use ::backoff::__private::{ViaDebug as _, ViaOpaque as _};
                    __backoff_outcome = __backoff_line
                        .emit(
                            __backoff_outcome,
                            |__backoff_of, __backoff_f| {
                                ::core::fmt::Display::fmt(
                                    &(&::backoff::__private::Describe(__backoff_of))
                                        .__backoff_describe(),
                                    __backoff_f,
                                )
                            },
                        );
                }
                match __backoff_action {
                    ::backoff::__private::Action::Backoff(__backoff_wait) => {
                        __backoff_wait
                    }
                    _ => return __backoff_outcome,
                }
            };
            ::backoff::__private::sync_sleep(__backoff_wait);
        }
    }
}
