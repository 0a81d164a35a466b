use politely::backoff;
fn fetch_once(id: u32) -> Result<Option<u32>, String> {
    Ok(Some(id))
}
/// The outer layer polls until the value is there (`Ok(None)` is retried); the inner one
/// retries errors, which pass through the outer layer untouched.
fn fetch(id: u32) -> Result<Option<u32>, String> {
    let mut __backoff_state = ::politely::__private::Run::<
        _,
        _,
        ::politely::__private::Unpaced,
    >::new(());
    loop {
        let __backoff_wait = {
            let mut __backoff_outcome = {
                #[allow(unused_mut)]
                let id = ::politely::__private::CloneArg::clone_arg(&id);
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
                        let __backoff_fake_return: Result<Option<u32>, String> = loop {};
                        return __backoff_fake_return;
                    }
                    let mut __backoff_state = ::politely::__private::Run::<
                        _,
                        _,
                        ::politely::__private::Unpaced,
                    >::new(0u32);
                    loop {
                        let __backoff_wait = {
                            let mut __backoff_outcome = {
                                #[allow(unused_mut)]
                                let id = ::politely::__private::CloneArg::clone_arg(&id);
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
                                        let __backoff_fake_return: Result<Option<u32>, String> = loop {};
                                        return __backoff_fake_return;
                                    }
                                    fetch_once(id)
                                })()
                            };
                            #[allow(clippy::needless_update)]
                            let (__backoff_action, __backoff_line) = {
                                let __backoff_verdict = ::politely::__private::judge_default::<
                                    Result<Option<u32>, String>,
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
                                                backoff_log_level: ::core::option::Option::Some(
                                                    ::politely::__private::Level::DEBUG,
                                                ),
                                                giveup_log_level: ::core::option::Option::None,
                                                ..::politely::__private::Rules::new("fetch")
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
                })()
            };
            #[allow(clippy::needless_update)]
            let (__backoff_action, __backoff_line) = {
                let __backoff_verdict = match <Result<
                    Option<u32>,
                    String,
                > as ::politely::__private::IsResult>::as_result(&__backoff_outcome) {
                    ::core::result::Result::Ok(__backoff_value) => {
                        ::politely::__private::judge_predicate({
                            let __backoff_f: &mut dyn ::core::ops::FnMut(
                                &<Result<
                                    Option<u32>,
                                    String,
                                > as ::politely::__private::IsResult>::Ok,
                            ) -> bool = &mut |v: &Option<u32>| v.is_none();
                            ::politely::__private::predicate(
                                __backoff_value,
                                __backoff_f,
                            )
                        })
                    }
                    ::core::result::Result::Err(_) => {
                        ::politely::__private::Verdict::Propagate
                    }
                };
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
                                    ::politely::__private::tries(10),
                                ),
                                ..::politely::__private::Rules::new("fetch")
                            },
                            ::politely::__private::Constant::new(
                                ::politely::__private::secs(5),
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
                ::politely::__private::Action::Backoff(__backoff_wait) => __backoff_wait,
                _ => return __backoff_outcome,
            }
        };
        ::politely::__private::sync_sleep(__backoff_wait);
    }
}
