use politely::{Details, backoff};
struct Counter {
    calls: u32,
}
async fn page(d: &Details<'_, bool>) {
    eprintln!("gave up after {} tries", d.tries);
}
impl Counter {
    /// `&mut self`: each attempt reborrows it; handlers sync and async.
    async fn bump_until(&mut self, target: u32) -> bool {
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
        >::new(());
        let __backoff_start = ::politely::__private::async_now();
        loop {
            let __backoff_wait = {
                let __backoff_outcome = {
                    let __backoff_self = &mut *self;
                    #[allow(unused_mut)]
                    let target = ::politely::__private::CloneArg::clone_arg(&target);
                    async move {
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
                        __backoff_self.calls += 1;
                        __backoff_self.calls >= target
                    }
                }
                    .await;
                #[allow(clippy::needless_update)]
                let (__backoff_elapsed, __backoff_action) = {
                    let __backoff_verdict = ::politely::__private::judge_default::<
                        bool,
                    >(&__backoff_outcome);
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
                                    max_tries: ::core::option::Option::Some(
                                        ::politely::__private::tries(4),
                                    ),
                                    ..::politely::__private::Rules::new("bump_until")
                                },
                                ::politely::__private::Constant::new(
                                    ::politely::__private::secs(1),
                                ),
                            ),
                            &::politely::__private::jitters::None,
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
                        ::politely::__private::call_handler(
                            __backoff_state
                                .details(
                                    "bump_until",
                                    &__backoff_outcome,
                                    __backoff_elapsed,
                                    ::core::option::Option::Some(__backoff_wait),
                                ),
                            |d| eprintln!("{:?}", d.wait),
                        );
                        __backoff_wait
                    }
                    _ => {
                        let __backoff_run = {
                            let __backoff_handler = page;
                            let __backoff_details = __backoff_state
                                .details(
                                    "bump_until",
                                    &__backoff_outcome,
                                    __backoff_elapsed,
                                    ::core::option::Option::None,
                                );
                            (&&&(&__backoff_details, &__backoff_handler))
                                .__backoff_handler_kind(&__backoff_handler)
                                .run(
                                    ::politely::__private::Handler(__backoff_handler),
                                    __backoff_details,
                                )
                        };
                        __backoff_run.await;
                        return __backoff_outcome;
                    }
                }
            };
            ::politely::__private::async_sleep(__backoff_wait).await;
        }
    }
}
