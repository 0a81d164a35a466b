use politely::{Feedback, Pacer, RateFeedback, backoff};
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
    let mut __backoff_state = ::politely::__private::Run::<
        _,
        _,
        ::politely::__private::Queued,
    >::new(0u32);
    static __BACKOFF_PACER: ::politely::__private::OnceLock<
        ::politely::__private::Pacer,
    > = ::politely::__private::OnceLock::new();
    let __backoff_pacer: &::politely::__private::Pacer = __BACKOFF_PACER
        .get_or_init(|| { ::politely::__private::Pacer::adaptive() });
    loop {
        let __backoff_key = {
            #[allow(unused_imports)]
            use ::politely::__private::{KeyViaDisplay as _, KeyViaStr as _};
            (&::politely::__private::KeyArg(&from)).__backoff_key()
        };
        __backoff_state
            .add_queued(
                ::politely::__private::ready_told(
                        __backoff_pacer,
                        ::core::option::Option::Some(&*__backoff_key),
                    )
                    .await,
            );
        let __backoff_sent = ::politely::__private::Pacer::now();
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
                    &::politely::__private::feedback_of::<
                        Result<Sent, Refused>,
                    >(&__backoff_outcome),
                    __backoff_sent,
                );
            #[allow(clippy::needless_update)]
            let (__backoff_elapsed, __backoff_action) = {
                let __backoff_verdict = ::politely::__private::judge_default::<
                    Result<Sent, Refused>,
                >(&__backoff_outcome);
                if __backoff_state
                    .settle(::core::option::Option::None, __backoff_verdict)
                {
                    return __backoff_outcome;
                }
                let __backoff_elapsed = ::core::time::Duration::ZERO;
                #[allow(unused_imports)]
                use ::politely::__private::{ViaDebug as _, ViaOpaque as _};
                let __backoff_action = __backoff_state
                    .fail(
                        || (
                            ::politely::__private::Rules {
                                max_tries: ::core::option::Option::Some(
                                    ::politely::__private::tries(5),
                                ),
                                ..::politely::__private::Rules::new("send")
                            },
                            ::politely::__private::expo(
                                2,
                                1,
                                ::core::option::Option::None,
                            ),
                        ),
                        &::politely::__private::jitters::Full,
                        &__backoff_outcome,
                        __backoff_verdict,
                        || __backoff_elapsed,
                        &(&::politely::__private::Describe(&__backoff_outcome))
                            .__backoff_describe(),
                        |__backoff_of| ::core::option::Option::None,
                    );
                (__backoff_elapsed, __backoff_action)
            };
            match __backoff_action {
                ::politely::__private::Action::Backoff(__backoff_wait) => __backoff_wait,
                _ => {
                    return __backoff_outcome;
                }
            }
        };
        ::politely::__private::async_sleep(__backoff_wait).await;
    }
}
struct Client {
    pacer: Pacer,
}
impl Client {
    /// The client's own pacer, told by a closure what the output means.
    fn ping(&self) -> bool {
        let mut __backoff_state = ::politely::__private::Run::<
            _,
            _,
            ::politely::__private::Queued,
        >::new(());
        let __backoff_pacer = &self.pacer;
        let __backoff_pacer: &::politely::__private::Pacer = ::politely::__private::pacer(
            __backoff_pacer,
        );
        loop {
            __backoff_state
                .add_queued(
                    ::politely::__private::ready_blocking_told(
                        __backoff_pacer,
                        ::core::option::Option::None,
                    ),
                );
            let __backoff_sent = ::politely::__private::Pacer::now();
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
                            ::politely::__private::observe_with(
                                &__backoff_outcome,
                                __backoff_f,
                            )
                        },
                        __backoff_sent,
                    );
                #[allow(clippy::needless_update)]
                let (__backoff_action, __backoff_line) = {
                    let __backoff_verdict = ::politely::__private::judge_default::<
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
                                ::politely::__private::Rules {
                                    max_tries: ::core::option::Option::Some(
                                        ::politely::__private::tries(3),
                                    ),
                                    ..::politely::__private::Rules::new("ping")
                                },
                                ::politely::__private::Constant::new(
                                    ::politely::__private::secs(1),
                                ),
                            ),
                            &::politely::__private::jitters::Full,
                            &__backoff_outcome,
                            __backoff_verdict,
                            || ::core::time::Duration::ZERO,
                            |__backoff_of| ::core::option::Option::None,
                        )
                };
                if let ::core::option::Option::Some(__backoff_line) = __backoff_line {
                    #[allow(unused_imports)]
                    use ::politely::__private::{ViaDebug as _, ViaOpaque as _};
                    __backoff_outcome = __backoff_line
                        .emit(
                            __backoff_outcome,
                            |__backoff_of, __backoff_f| {
                                ::core::fmt::Display::fmt(
                                    &(&::politely::__private::Describe(__backoff_of))
                                        .__backoff_describe(),
                                    __backoff_f,
                                )
                            },
                        );
                }
                match __backoff_action {
                    ::politely::__private::Action::Backoff(__backoff_wait) => {
                        __backoff_wait
                    }
                    _ => return __backoff_outcome,
                }
            };
            ::politely::__private::sync_sleep(__backoff_wait);
        }
    }
}
