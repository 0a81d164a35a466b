use backoff::backoff;
fn fetch_once(id: u32) -> Result<Option<u32>, String> {
    Ok(Some(id))
}
/// The outer layer polls until the value is there (`Ok(None)` is retried); the inner one
/// retries errors, which pass through the outer layer untouched.
fn fetch(id: u32) -> Result<Option<u32>, String> {
    let mut __backoff_state = ::backoff::__private::Run::<
        _,
        _,
        ::backoff::__private::Unpaced,
    >::new(());
    loop {
        let __backoff_wait = {
            let __backoff_outcome = {
                #[allow(unused_mut)]
                let id = ::backoff::__private::CloneArg::clone_arg(&id);
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
                    let mut __backoff_state = ::backoff::__private::Run::<
                        _,
                        _,
                        ::backoff::__private::Unpaced,
                    >::new(0u32);
                    loop {
                        let __backoff_wait = {
                            let __backoff_outcome = {
                                #[allow(unused_mut)]
                                let id = ::backoff::__private::CloneArg::clone_arg(&id);
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
                            let __backoff_elapsed = ::core::time::Duration::ZERO;
                            #[allow(clippy::needless_update)]
                            let __backoff_action = {
                                #[allow(unused_imports)]
                                use ::backoff::__private::{ViaDebug as _, ViaOpaque as _};
                                __backoff_state
                                    .decide(
                                        ::core::option::Option::None,
                                        || (
                                            ::backoff::__private::Rules {
                                                max_tries: ::core::option::Option::Some(
                                                    ::backoff::__private::tries(3),
                                                ),
                                                backoff_log_level: ::core::option::Option::Some(
                                                    ::backoff::__private::Level::DEBUG,
                                                ),
                                                giveup_log_level: ::core::option::Option::None,
                                                ..::backoff::__private::Rules::new("fetch")
                                            },
                                            ::backoff::__private::expo(
                                                2,
                                                1,
                                                ::core::option::Option::None,
                                            ),
                                        ),
                                        &::backoff::__private::jitters::Full,
                                        &__backoff_outcome,
                                        ::backoff::__private::judge_default::<
                                            Result<Option<u32>, String>,
                                        >(&__backoff_outcome),
                                        __backoff_elapsed,
                                        &(&::backoff::__private::Describe(&__backoff_outcome))
                                            .__backoff_describe(),
                                        || ::core::option::Option::None,
                                    )
                            };
                            match __backoff_action {
                                ::backoff::__private::Action::Backoff(__backoff_wait) => {
                                    __backoff_wait
                                }
                                ::backoff::__private::Action::Success => {
                                    return __backoff_outcome;
                                }
                                ::backoff::__private::Action::GiveUp => {
                                    return __backoff_outcome;
                                }
                                ::backoff::__private::Action::Propagate => {
                                    return __backoff_outcome;
                                }
                            }
                        };
                        ::backoff::__private::sync_sleep(__backoff_wait);
                    }
                })()
            };
            let __backoff_elapsed = ::core::time::Duration::ZERO;
            #[allow(clippy::needless_update)]
            let __backoff_action = {
                #[allow(unused_imports)]
                use ::backoff::__private::{ViaDebug as _, ViaOpaque as _};
                __backoff_state
                    .decide(
                        ::core::option::Option::None,
                        || (
                            ::backoff::__private::Rules {
                                max_tries: ::core::option::Option::Some(
                                    ::backoff::__private::tries(10),
                                ),
                                ..::backoff::__private::Rules::new("fetch")
                            },
                            ::backoff::__private::Constant::new(
                                ::backoff::__private::secs(5),
                            ),
                        ),
                        &::backoff::__private::jitters::Full,
                        &__backoff_outcome,
                        match <Result<
                            Option<u32>,
                            String,
                        > as ::backoff::__private::IsResult>::as_result(
                            &__backoff_outcome,
                        ) {
                            ::core::result::Result::Ok(__backoff_value) => {
                                ::backoff::__private::judge_predicate(
                                    ::backoff::__private::predicate(
                                        __backoff_value,
                                        |v: &Option<u32>| v.is_none(),
                                    ),
                                )
                            }
                            ::core::result::Result::Err(_) => {
                                ::backoff::__private::Verdict::Propagate
                            }
                        },
                        __backoff_elapsed,
                        &(&::backoff::__private::Describe(&__backoff_outcome))
                            .__backoff_describe(),
                        || ::core::option::Option::None,
                    )
            };
            match __backoff_action {
                ::backoff::__private::Action::Backoff(__backoff_wait) => __backoff_wait,
                ::backoff::__private::Action::Success => {
                    return __backoff_outcome;
                }
                ::backoff::__private::Action::GiveUp => {
                    return __backoff_outcome;
                }
                ::backoff::__private::Action::Propagate => return __backoff_outcome,
            }
        };
        ::backoff::__private::sync_sleep(__backoff_wait);
    }
}
