use politely::backoff;
fn status(_job: &str) -> String {
    "done".to_owned()
}
/// A sync fn and a predicate on its value: poll every 2 s for at most a minute.
fn poll(job: &str) -> String {
    let mut __backoff_state = ::politely::__private::Run::<
        _,
        _,
        ::politely::__private::Unpaced,
    >::new(());
    let __backoff_start = ::politely::__private::sync_now();
    loop {
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
                        let __backoff_fake_return: String = loop {};
                        return __backoff_fake_return;
                    }
                    status(job)
                })()
            };
            #[allow(clippy::needless_update)]
            let (__backoff_action, __backoff_line) = {
                let __backoff_verdict = ::politely::__private::judge_predicate({
                    let __backoff_f: &mut dyn ::core::ops::FnMut(&String) -> bool = &mut |
                        status: &String|
                    status != "done";
                    ::politely::__private::predicate(&__backoff_outcome, __backoff_f)
                });
                if __backoff_state
                    .settle(::core::option::Option::None, __backoff_verdict)
                {
                    return __backoff_outcome;
                }
                __backoff_state
                    .fail_later(
                        || (
                            ::politely::__private::Rules {
                                max_time: ::core::option::Option::Some(
                                    ::politely::__private::secs(60),
                                ),
                                ..::politely::__private::Rules::new("poll")
                            },
                            ::politely::__private::Constant::new(
                                ::politely::__private::secs(2),
                            ),
                        ),
                        &::politely::__private::jitters::None,
                        &__backoff_outcome,
                        __backoff_verdict,
                        || ::politely::__private::elapsed(
                            &__backoff_start,
                            ::politely::__private::sync_now(),
                        ),
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
