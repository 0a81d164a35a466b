use politely::{Details, backoff};
#[derive(Debug)]
enum SmsError {
    RateLimited,
    Server(u16),
    Rejected(u16),
}
async fn post(_to: &str) -> Result<(), SmsError> {
    Ok(())
}
fn log_wait(d: &Details<'_, Result<(), SmsError>>) {
    eprintln!("try {} failed; waiting {:?}", d.tries, d.wait);
}
async fn send_sms(to: &str) -> Result<(), SmsError> {
    trait __BackoffSyncHandler {
        fn __backoff_handler_kind<H: ?::core::marker::Sized>(
            &self,
            _: &H,
        ) -> ::politely::__private::SyncTag {
            ::politely::__private::SyncTag
        }
    }
    impl<
        'x,
        R: ?::core::marker::Sized,
        F: ::core::ops::FnOnce(&::politely::__private::Details<'x, R>),
    > __BackoffSyncHandler for &&(&::politely::__private::Details<'x, R>, &F) {}
    trait __BackoffAsyncHandler {
        fn __backoff_handler_kind<H: ?::core::marker::Sized>(
            &self,
            _: &H,
        ) -> ::politely::__private::AsyncTag {
            ::politely::__private::AsyncTag
        }
    }
    impl<
        'x,
        R: ?::core::marker::Sized,
        F: ::politely::__private::AsyncHandlerFn<'x, R>,
    > __BackoffAsyncHandler for &(&::politely::__private::Details<'x, R>, &F) {}
    trait __BackoffNoHandler<'x, R: ?::core::marker::Sized> {
        fn __backoff_handler_kind(
            &self,
            _: &dyn ::core::ops::Fn(&::politely::__private::Details<'x, R>),
        ) -> __BackoffNoHandlerTag {
            __BackoffNoHandlerTag
        }
    }
    impl<'x, R: ?::core::marker::Sized, F> __BackoffNoHandler<'x, R>
    for (&::politely::__private::Details<'x, R>, &F) {}
    struct __BackoffNoHandlerTag;
    impl __BackoffNoHandlerTag {
        fn run<A, B>(self, _: A, _: B) -> ::core::future::Ready<()> {
            ::core::future::ready(())
        }
    }
    let mut __backoff_state = ::politely::__private::Run::<
        _,
        _,
        ::politely::__private::Unpaced,
    >::new(0u32);
    let __backoff_start = ::politely::__private::async_now();
    loop {
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
                        let __backoff_fake_return: Result<(), SmsError> = loop {};
                        return __backoff_fake_return;
                    }
                    post(to).await
                }
            }
                .await;
            #[allow(clippy::needless_update)]
            let (__backoff_elapsed, __backoff_action) = {
                let __backoff_verdict = match <Result<
                    (),
                    SmsError,
                > as ::politely::__private::IsResult>::as_result(&__backoff_outcome) {
                    ::core::result::Result::Ok(_) => {
                        ::politely::__private::Verdict::Success
                    }
                    ::core::result::Result::Err(
                        __backoff_error,
                    ) if !::core::matches!(
                        __backoff_error, SmsError::RateLimited | SmsError::Server(_)
                    ) => ::politely::__private::Verdict::Propagate,
                    ::core::result::Result::Err(_) => {
                        ::politely::__private::Verdict::Retry
                    }
                };
                if __backoff_state
                    .settle(::core::option::Option::None, __backoff_verdict)
                {
                    return __backoff_outcome;
                }
                let __backoff_elapsed = ::politely::__private::elapsed(
                    &__backoff_start,
                    ::politely::__private::async_now(),
                );
                #[allow(unused_imports)]
                use ::politely::__private::{ViaDebug as _, ViaOpaque as _};
                let __backoff_action = __backoff_state
                    .fail(
                        || (
                            ::politely::__private::Rules {
                                max_time: ::core::option::Option::Some(
                                    ::politely::__private::secs(300),
                                ),
                                ..::politely::__private::Rules::new("send_sms")
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
                ::politely::__private::Action::Backoff(__backoff_wait) => {
                    let __backoff_run = {
                        let __backoff_handler = log_wait;
                        let __backoff_details = __backoff_state
                            .details(
                                "send_sms",
                                &__backoff_outcome,
                                __backoff_elapsed,
                                ::core::option::Option::Some(__backoff_wait),
                            );
                        (&&&(&__backoff_details, &__backoff_handler))
                            .__backoff_handler_kind(&__backoff_handler)
                            .run(
                                ::politely::__private::Handler(__backoff_handler),
                                __backoff_details,
                            )
                    };
                    __backoff_run.await;
                    __backoff_wait
                }
                _ => {
                    return __backoff_outcome;
                }
            }
        };
        ::politely::__private::async_sleep(__backoff_wait).await;
    }
}
