use politely::backoff;
#[derive(Debug)]
struct Busy;
async fn deliver(_from: &str, _text: String) -> Result<(), Busy> {
    Ok(())
}
/// One pacer per sender, one attempt per second each; an owned argument the body names is
/// cloned for each attempt before it starts.
async fn send(from: &str, text: String) -> Result<(), Busy> {
    let mut __backoff_state = ::politely::__private::Run::<
        _,
        _,
        ::politely::__private::Queued,
    >::new(0u32);
    static __BACKOFF_PACER: ::politely::__private::OnceLock<
        ::politely::__private::Pacer,
    > = ::politely::__private::OnceLock::new();
    let __backoff_pacer: &::politely::__private::Pacer = __BACKOFF_PACER
        .get_or_init(|| {
            ::politely::__private::Pacer::with_burst(
                ::politely::__private::ToF64::to_f64(1),
                ::core::time::Duration::from_secs(1u64),
                2,
            )
        });
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
                #[allow(unused_mut)]
                let text = ::politely::__private::CloneArg::clone_arg(&text);
                async move {
                    #[allow(
                        unknown_lints,
                        unreachable_code,
                        clippy::diverging_sub_expression,
                        clippy::empty_loop,
                        clippy::let_unit_value
                    )]
                    if false {
                        let __backoff_fake_return: Result<(), Busy> = loop {};
                        return __backoff_fake_return;
                    }
                    deliver(from, text).await
                }
            }
                .await;
            ::politely::__private::answered(
                __backoff_pacer,
                ::core::option::Option::Some(&*__backoff_key),
                __backoff_sent,
            );
            #[allow(clippy::needless_update)]
            let (__backoff_elapsed, __backoff_action) = {
                let __backoff_verdict = ::politely::__private::judge_default::<
                    Result<(), Busy>,
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
                                    ::politely::__private::tries(8),
                                ),
                                seed: ::core::option::Option::Some(
                                    ::politely::__private::seed(7),
                                ),
                                retry_after_max: ::core::option::Option::Some(
                                    ::politely::__private::secs(30),
                                ),
                                ..::politely::__private::Rules::new("send")
                            },
                            ::politely::__private::Fibo::new(
                                ::core::option::Option::Some(
                                    ::politely::__private::secs(30),
                                ),
                            ),
                        ),
                        &::politely::__private::jitters::Full,
                        &__backoff_outcome,
                        __backoff_verdict,
                        || __backoff_elapsed,
                        &(&::politely::__private::Describe(&__backoff_outcome))
                            .__backoff_describe(),
                        |__backoff_of| match <Result<
                            (),
                            Busy,
                        > as ::politely::__private::IsResult>::as_result(__backoff_of) {
                            ::core::result::Result::Err(__backoff_error) => {
                                let __backoff_f: &mut dyn ::core::ops::FnMut(
                                    &<Result<(), Busy> as ::politely::__private::IsResult>::Err,
                                ) -> ::core::option::Option<_> = &mut |_: &Busy| Some(5);
                                ::politely::__private::retry_after(
                                    __backoff_error,
                                    __backoff_f,
                                )
                            }
                            ::core::result::Result::Ok(_) => ::core::option::Option::None,
                        },
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
