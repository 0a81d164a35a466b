//! Figures for pacing through Redis (docs/benchmarks.md, "Pacing across processes (Redis)"):
//!
//! 1. reservations/s and the round trip's median and p99 through a `redis-server` on
//!    loopback, from 1 and from 8 concurrent tasks;
//! 2. what a 10 s Redis outage costs a paced run: 4 workers (each its own pacer and
//!    connection, as separate processes would have) send 300 messages at a shared 10/s
//!    through a stand-in that answers 429 to any start closer than the limit allows; a 429 is
//!    retried through the pacer. Redis is stopped 8 s into the run and started again 10 s
//!    later.
//!
//! Run: `cargo bench --features redis --bench redis_pacing` (starts its own `redis-server`
//! from PATH, or `REDIS_SERVER`, on a free loopback port; `-- --quick` skips the outage runs).
#![cfg_attr(not(feature = "redis"), allow(unused))]

#[cfg(not(feature = "redis"))]
fn main() {
    eprintln!("redis_pacing: run with `--features redis`");
}

#[cfg(feature = "redis")]
fn main() {
    imp::main();
}

#[cfg(feature = "redis")]
mod imp {
    use std::net::TcpListener;
    use std::process::{Child, Command, Stdio};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use politely::redis;
    use politely::{Pacer, RedisPacerBuilder};

    struct Server {
        child: Option<Child>,
        port: u16,
    }

    impl Server {
        fn start() -> Server {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free loopback port")
                .port();
            let mut s = Server { child: None, port };
            s.restart();
            s
        }
        fn url(&self) -> String {
            format!("redis://127.0.0.1:{}/", self.port)
        }
        fn restart(&mut self) {
            let bin = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
            let child = Command::new(&bin)
                .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start `{bin}`: {e}"));
            self.child = Some(child);
            let client = redis::Client::open(self.url()).unwrap();
            for _ in 0..200 {
                if let Ok(mut con) = client.get_connection_with_timeout(Duration::from_millis(100))
                    && redis::cmd("PING").query::<String>(&mut con).is_ok()
                {
                    return;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
            panic!("redis-server did not answer");
        }
        fn stop(&mut self) {
            if let Some(mut c) = self.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop();
        }
    }

    fn pct(sorted: &[Duration], p: f64) -> Duration {
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[i.min(sorted.len() - 1)]
    }

    /// `tasks` tasks reserve as fast as Redis answers (a rate far above what they reach, so
    /// nobody waits for a slot: the time is the round trip) for `secs`.
    async fn throughput(url: &str, tasks: usize, secs: f64) -> (f64, Duration, Duration) {
        // 10^6/s with a burst of 10^6: nobody waits for a slot.
        let pacer = Pacer::redis_with_burst(url, "bench-throughput", 1e6, 1, 1_000_000);
        let pacer = Arc::new(pacer.unwrap());
        pacer.ready(None).await; // connect and load the script
        let t0 = Instant::now();
        let until = t0 + Duration::from_secs_f64(secs);
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let p = pacer.clone();
                tokio::spawn(async move {
                    let mut rtts = Vec::new();
                    while Instant::now() < until {
                        let t = Instant::now();
                        p.ready(None).await;
                        rtts.push(t.elapsed());
                    }
                    rtts
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.await.unwrap());
        }
        let elapsed = t0.elapsed().as_secs_f64();
        all.sort();
        (all.len() as f64 / elapsed, pct(&all, 0.5), pct(&all, 0.99))
    }

    /// The stand-in's limit: GCRA at `interval`, burst 1, `slack` of timing tolerance. Returns
    /// whether a request starting now is admitted (else: 429).
    struct Limit {
        tat: Option<Instant>,
        interval: Duration,
        slack: Duration,
    }

    impl Limit {
        fn admit(&mut self, now: Instant) -> bool {
            let tat = self.tat.unwrap_or(now);
            if tat > now + self.slack {
                return false;
            }
            self.tat = Some(tat.max(now) + self.interval);
            true
        }
    }

    struct Run {
        elapsed: Duration,
        rejected: usize,
    }

    /// `workers` pacers share `rate`/s through Redis and send `messages` in all; a 429 is sent
    /// again. With `outage`, Redis stops at 8 s for 10 s.
    async fn paced_run(
        server: &mut Server,
        workers: usize,
        messages: usize,
        rate: f64,
        fail_closed: bool,
        outage: bool,
    ) -> Run {
        let name = format!("bench-outage-{workers}-{fail_closed}-{outage}");
        let interval = Duration::from_secs_f64(1.0 / rate);
        let limit = Arc::new(Mutex::new(Limit {
            tat: None,
            interval,
            slack: interval / 10,
        }));
        let left = Arc::new(Mutex::new(messages));
        let rejected = Arc::new(Mutex::new(0usize));
        let t0 = Instant::now();
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let client = redis::Client::open(server.url()).unwrap();
                let mut b = RedisPacerBuilder::new(client, &name, rate, Duration::from_secs(1));
                if fail_closed {
                    b = b.fail_closed();
                }
                let pacer = b.build();
                let (limit, left, rejected) = (limit.clone(), left.clone(), rejected.clone());
                tokio::spawn(async move {
                    loop {
                        {
                            let mut l = left.lock().unwrap();
                            if *l == 0 {
                                return;
                            }
                            *l -= 1;
                        }
                        loop {
                            pacer.ready(None).await;
                            if limit.lock().unwrap().admit(Instant::now()) {
                                break;
                            }
                            *rejected.lock().unwrap() += 1;
                        }
                    }
                })
            })
            .collect();
        if outage {
            tokio::time::sleep(Duration::from_secs(8)).await;
            server.stop();
            tokio::time::sleep(Duration::from_secs(10)).await;
            server.restart();
        }
        for h in handles {
            h.await.unwrap();
        }
        let elapsed = t0.elapsed();
        let rejected = *rejected.lock().unwrap();
        Run { elapsed, rejected }
    }

    pub fn main() {
        let quick = std::env::args().any(|a| a == "--quick");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut server = Server::start();
            let url = server.url();
            println!("Reservations through redis-server on loopback (3 s each):\n");
            println!("| tasks | reservations/s | median round trip | p99 round trip |");
            println!("|---|---|---|---|");
            for tasks in [1, 8] {
                let (per_s, p50, p99) = throughput(&url, tasks, 3.0).await;
                println!(
                    "| {tasks} | {per_s:.0} | {:.0} µs | {:.0} µs |",
                    p50.as_secs_f64() * 1e6,
                    p99.as_secs_f64() * 1e6
                );
            }
            if quick {
                return;
            }
            let (messages, rate) = (300, 10.0);
            let physical = (messages - 1) as f64 / rate;
            println!(
                "\n{messages} messages at a shared {rate}/s (burst 1; the physical limit is {physical:.1} s); \
                 Redis stopped 8 s in for 10 s where marked:\n"
            );
            println!("| workers | Redis | on outage | elapsed | extra time | responses 429 |");
            println!("|---|---|---|---|---|---|");
            for (workers, fail_closed, outage) in [
                (4, false, false),
                (1, false, true),
                (4, false, true),
                (4, true, true),
            ] {
                let run = paced_run(&mut server, workers, messages, rate, fail_closed, outage).await;
                let secs = run.elapsed.as_secs_f64();
                println!(
                    "| {workers} | {} | {} | {secs:.2} s | {:+.2} s | {} |",
                    if outage { "down 10 s" } else { "up" },
                    if fail_closed { "wait (fail closed)" } else { "pace locally" },
                    secs - physical,
                    run.rejected,
                );
            }
        });
    }
}
