//! nginx's `limit_req` in front of a stand-in: a rate limiter nobody here wrote, as tests and
//! `scripts/` run it.
//!
//! [`Nginx::start`] runs an nginx of its own, on 127.0.0.1 and a free port, from a prefix
//! directory made for it under the system's temporary directory (its config, pid file, logs
//! and every temporary path are inside it), in the foreground (`-g 'daemon off;'`) and as one
//! process (`master_process off`), so that killing it stops nginx; dropping it does, and
//! removes the prefix. The config, for [`LimitReq`] `10r/s burst=5 nodelay` in front of
//! the stand-in at `127.0.0.1:UP`:
//!
//! ```text
//! limit_req_zone "all" zone=limit:1m rate=10r/s;   # one key: one limit for every client
//! limit_req_status 429;
//! server {
//!     listen 127.0.0.1:PORT;
//!     location / {
//!         limit_req zone=limit burst=5 nodelay;
//!         proxy_pass http://standin;               # upstream 127.0.0.1:UP, kept alive
//!     }
//! }
//! ```
//!
//! Every request of the location counts, whatever its path or method, and a refused one is
//! answered `429` with no `Retry-After` and no rate-limit fields (nginx sends none). nginx
//! judges each request when it has read its header, to the millisecond: with no burst, at
//! `10r/s`, a request less than 100 ms after the last one it let through is refused; with
//! `burst=5 nodelay`, 6 go at once from rest, then one every 100 ms. A refused request does
//! not count against the next. The stand-in behind it should enforce nothing
//! ([`Config::enforce_limit`](crate::Config::enforce_limit) off).
//!
//! The access log ([`Nginx::access_log`]) has one line per request, in the order they ended,
//! with when it came and how long it took (to the millisecond), its status, method and path:
//! nginx's own count of what it let through and refused.
//!
//! The nginx binary ([`binary`]): `NGINX` if set, else `nginx` on `PATH`, else
//! `/usr/sbin/nginx` (where Debian's `nginx-light` puts it, off a normal user's `PATH`). Tests call
//! [`start_for_test`], which skips them with a line saying how to run them when there is no
//! nginx, except under CI (`CI=true`), where that fails them.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Once;
use std::time::{Duration, Instant};

/// How to get the nginx tests to run, for the line printed when they are skipped.
pub const HOW_TO_RUN: &str = "install nginx (`apt-get install nginx-light`, or `nginx`), or set \
NGINX to its binary; .ci/run installs it";

/// How many free-looking ports [`Nginx::start`] tries before it gives up.
const PORT_TRIES: usize = 5;

/// How long nginx may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// `limit_req`'s settings: `rate`, `burst`, `nodelay`; written and read as nginx writes them,
/// `10r/s`, `10r/s burst=5 nodelay`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitReq {
    /// Requests per second (nginx takes whole numbers only).
    pub rate: u32,
    /// Requests beyond the rate that nginx accepts (0: none).
    pub burst: u32,
    /// Those are let through at once, not delayed to the rate.
    pub nodelay: bool,
}

impl LimitReq {
    /// `rate` requests per second, no burst.
    pub fn per_second(rate: u32) -> LimitReq {
        LimitReq {
            rate,
            burst: 0,
            nodelay: false,
        }
    }

    /// The same rate, `burst` accepted beyond it, let through at once (`burst=N nodelay`).
    pub fn burst_nodelay(self, burst: u32) -> LimitReq {
        LimitReq {
            burst,
            nodelay: true,
            ..self
        }
    }

    /// The least time, in seconds, from the first of `count` requests to the last that this
    /// limit lets through: with `nodelay`, `1 + burst` at once from rest, then one every
    /// `1/rate` (`(count - 1 - burst) / rate`); without, one every `1/rate`.
    pub fn ideal_seconds(&self, count: usize) -> f64 {
        let at_once = if self.nodelay { 1 + self.burst } else { 1 };
        count.saturating_sub(at_once as usize) as f64 / f64::from(self.rate)
    }
}

impl fmt::Display for LimitReq {
    /// `10r/s`, `10r/s burst=5`, `10r/s burst=5 nodelay`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}r/s", self.rate)?;
        if self.burst > 0 {
            write!(f, " burst={}", self.burst)?;
        }
        if self.nodelay {
            f.write_str(" nodelay")?;
        }
        Ok(())
    }
}

impl FromStr for LimitReq {
    type Err = String;

    /// `RATEr/s [burst=N] [nodelay]`, as nginx writes them.
    fn from_str(text: &str) -> Result<LimitReq, String> {
        let bad = |why: String| {
            format!(
                "limit_req {text:?}: {why}; expected RATEr/s [burst=N] [nodelay], e.g. 10r/s burst=5 nodelay"
            )
        };
        let mut words = text.split_whitespace();
        let rate = words
            .next()
            .and_then(|w| w.strip_suffix("r/s"))
            .ok_or_else(|| bad("no rate".to_owned()))?;
        let rate: u32 = rate
            .parse()
            .map_err(|e| bad(format!("{rate:?} is not a whole number of requests: {e}")))?;
        if rate == 0 {
            return Err(bad("the rate must be at least 1r/s".to_owned()));
        }
        let mut limit = LimitReq::per_second(rate);
        for word in words {
            match word.split_once('=') {
                Some(("burst", n)) => {
                    limit.burst = n.parse().map_err(|e| bad(format!("burst {n:?}: {e}")))?;
                }
                None if word == "nodelay" => limit.nodelay = true,
                _ => return Err(bad(format!("unknown word {word:?}"))),
            }
        }
        Ok(limit)
    }
}

/// How many of `lines` have each status.
pub fn statuses(lines: &[Logged]) -> BTreeMap<u16, usize> {
    let mut out = BTreeMap::new();
    for line in lines {
        *out.entry(line.status).or_default() += 1;
    }
    out
}

/// One line of nginx's access log.
#[derive(Clone, Debug, PartialEq)]
pub struct Logged {
    /// When the request came (nginx read its first bytes), in seconds since the Unix epoch, to
    /// the millisecond: when it was logged (`$msec`) less how long it took (`$request_time`).
    pub at: f64,
    /// How long it took, from its first bytes read to its answer sent, in seconds, to the
    /// millisecond (`$request_time`): a passed request's includes the stand-in's answer.
    pub took: f64,
    /// The status it answered.
    pub status: u16,
    /// `POST`, `GET`, ...
    pub method: String,
    /// The path (and query) requested.
    pub uri: String,
}

/// Why nginx could not be started.
#[derive(Debug)]
pub enum Error {
    /// There is no nginx binary (see the module docs for where it is looked for).
    NotInstalled,
    /// The prefix could not be written, or nginx not run.
    Io(io::Error),
    /// nginx stopped, or did not listen in time; with its error log.
    Failed(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotInstalled => write!(f, "no nginx binary found; {HOW_TO_RUN}"),
            Error::Io(e) => write!(f, "cannot run nginx: {e}"),
            Error::Failed(why) => write!(f, "nginx did not start: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

/// The nginx binary: `NGINX`, else `nginx` on `PATH`, else `/usr/sbin/nginx` or
/// `/usr/local/sbin/nginx`; `None` when none of them is a file.
pub fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NGINX").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|p| p.is_file())
}

/// For tests: nginx with `limit` in front of `upstream`, or `None` when there is no nginx, after
/// one line on stderr that says how to run the tests.
///
/// # Panics
///
/// Under CI (`CI=true`) when there is no nginx: there the tests must run. And when nginx is
/// there but does not start.
pub fn start_for_test(upstream: SocketAddr, limit: LimitReq) -> Option<Nginx> {
    match Nginx::start(upstream, limit) {
        Ok(nginx) => Some(nginx),
        Err(Error::NotInstalled) => {
            skip_test();
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// There is no nginx: fails under CI, else says once on stderr that the tests are skipped.
fn skip_test() {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("no nginx binary: under CI the nginx tests must run; {HOW_TO_RUN}");
    }
    static ONCE: Once = Once::new();
    // Straight to stderr, past the test harness's capture: the line shows in a plain run.
    ONCE.call_once(|| {
        let _ = writeln!(
            io::stderr(),
            "nginx tests skipped (no nginx binary); {HOW_TO_RUN}"
        );
    });
}

/// A running nginx of its own; stopped, and its prefix removed, when dropped.
pub struct Nginx {
    child: Child,
    addr: SocketAddr,
    prefix: PathBuf,
    limit: LimitReq,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.prefix);
    }
}

impl Nginx {
    /// Starts nginx with `limit` in front of `upstream` (see the module docs), and waits until
    /// it listens.
    ///
    /// nginx cannot be given port 0 and say which port it took, so this takes a port the
    /// system hands out as free, lets it go and starts nginx on it; if something else took it
    /// meanwhile, it tries another, 5 times in all.
    pub fn start(upstream: SocketAddr, limit: LimitReq) -> Result<Nginx, Error> {
        let bin = binary().ok_or(Error::NotInstalled)?;
        let prefix = make_prefix()?;
        let mut last = String::new();
        for _ in 0..PORT_TRIES {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            match launch(&bin, &prefix, addr, upstream, limit) {
                Ok(child) => {
                    return Ok(Nginx {
                        child,
                        addr,
                        prefix,
                        limit,
                    });
                }
                Err(Launch::PortTaken(log)) => last = log,
                Err(Launch::Failed(e)) => {
                    let _ = fs::remove_dir_all(&prefix);
                    return Err(e);
                }
            }
        }
        let _ = fs::remove_dir_all(&prefix);
        Err(Error::Failed(format!(
            "every port tried was taken ({PORT_TRIES} tries); the last error log:\n{last}"
        )))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its `limit_req` settings.
    pub fn limit(&self) -> LimitReq {
        self.limit
    }

    /// Its prefix directory: `nginx.conf`, `access.log`, `error.log`.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The access log's path.
    pub fn access_log_path(&self) -> PathBuf {
        self.prefix.join("access.log")
    }

    /// Every request it answered so far, in the order it logged them.
    pub fn access_log(&self) -> io::Result<Vec<Logged>> {
        let text = fs::read_to_string(self.access_log_path())?;
        text.lines()
            .map(|line| {
                parse_line(line).ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("access log line {line:?}"),
                    )
                })
            })
            .collect()
    }

    /// The access log once it has at least `count` lines, or as it is after `timeout`. nginx
    /// writes a request's line just after it has sent the answer, so a client that has read
    /// its last answer may read the log a moment too soon.
    pub fn wait_for_requests(&self, count: usize, timeout: Duration) -> io::Result<Vec<Logged>> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.access_log()?;
            if log.len() >= count || Instant::now() >= deadline {
                return Ok(log);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Its error log so far (a line for each request it refused, among others).
    pub fn error_log(&self) -> String {
        fs::read_to_string(self.prefix.join("error.log")).unwrap_or_default()
    }
}

/// `$msec $request_time $status $request_method $request_uri`.
fn parse_line(line: &str) -> Option<Logged> {
    let mut words = line.split(' ');
    let logged: f64 = words.next()?.parse().ok()?;
    let took: f64 = words.next()?.parse().ok()?;
    let status = words.next()?.parse().ok()?;
    let method = words.next()?.to_owned();
    let uri = words.next()?.to_owned();
    Some(Logged {
        at: logged - took,
        took,
        status,
        method,
        uri,
    })
}

/// A fresh directory under the system's temporary directory.
fn make_prefix() -> io::Result<PathBuf> {
    loop {
        let dir = std::env::temp_dir().join(format!(
            "backoff-nginx-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The config for `limit` in front of `upstream`, listening on `addr`, everything under
/// `prefix`.
fn config(prefix: &Path, addr: SocketAddr, upstream: SocketAddr, limit: LimitReq) -> String {
    let path = |name: &str| format!("\"{}\"", prefix.join(name).display());
    let burst = if limit.burst > 0 {
        format!(" burst={}", limit.burst)
    } else {
        String::new()
    };
    let nodelay = if limit.nodelay { " nodelay" } else { "" };
    format!(
        r#"# Written by backoff_standin::nginx; run with -p {prefix} -g 'daemon off;'.
# One process (no master and workers): killing it stops nginx.
master_process off;
worker_processes 1;
pid {pid};
error_log {error_log} notice;

events {{
    worker_connections 1024;
}}

http {{
    log_format timed '$msec $request_time $status $request_method $request_uri';
    access_log {access_log} timed;
    client_body_temp_path {client_body};
    proxy_temp_path {proxy};
    fastcgi_temp_path {fastcgi};
    uwsgi_temp_path {uwsgi};
    scgi_temp_path {scgi};

    # A constant key: one limit for every client.
    limit_req_zone "all" zone=limit:1m rate={rate}r/s;
    limit_req_status 429;

    upstream standin {{
        server {upstream};
        keepalive 16;
    }}

    server {{
        listen {addr};
        location / {{
            limit_req zone=limit{burst}{nodelay};
            proxy_pass http://standin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"#,
        prefix = prefix.display(),
        pid = path("nginx.pid"),
        error_log = path("error.log"),
        access_log = path("access.log"),
        client_body = path("client_body"),
        proxy = path("proxy"),
        fastcgi = path("fastcgi"),
        uwsgi = path("uwsgi"),
        scgi = path("scgi"),
        rate = limit.rate,
    )
}

enum Launch {
    /// Something else listens on the port: the error log says so.
    PortTaken(String),
    Failed(Error),
}

/// Writes the config for `addr`, starts nginx and waits until it listens: its pid file, which
/// nginx writes once its listening socket is bound, holds its pid.
fn launch(
    bin: &Path,
    prefix: &Path,
    addr: SocketAddr,
    upstream: SocketAddr,
    limit: LimitReq,
) -> Result<Child, Launch> {
    let io = |e: io::Error| Launch::Failed(Error::Io(e));
    let conf = prefix.join("nginx.conf");
    let (pid_file, error_log) = (prefix.join("nginx.pid"), prefix.join("error.log"));
    fs::write(&conf, config(prefix, addr, upstream, limit)).map_err(io)?;
    let _ = fs::remove_file(&pid_file);
    let _ = fs::remove_file(&error_log);
    let stderr = fs::File::create(prefix.join("stderr.log")).map_err(io)?;
    let mut child = Command::new(bin)
        .arg("-p")
        .arg(prefix)
        .arg("-c")
        .arg(&conf)
        // Where it logs before it has read the config (the built-in default is outside
        // the prefix, and may not be writable).
        .arg("-e")
        .arg(&error_log)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(io)?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let log = fs::read_to_string(&error_log).unwrap_or_default();
        // nginx retries a taken port for 2.5 s before it gives up: try another at once.
        let taken = log.contains("Address already in use");
        let exited = child.try_wait().map_err(io)?;
        if taken || exited.is_some() || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            if taken {
                return Err(Launch::PortTaken(log));
            }
            let why = match exited {
                Some(status) => format!("it exited ({status})"),
                None => format!("it did not listen within {START_TIMEOUT:?}"),
            };
            let stderr = fs::read_to_string(prefix.join("stderr.log")).unwrap_or_default();
            return Err(Launch::Failed(Error::Failed(format!(
                "{why}; error log:\n{log}{stderr}"
            ))));
        }
        let pid = fs::read_to_string(&pid_file).unwrap_or_default();
        if pid.trim().parse::<u32>().ok() == Some(child.id()) {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_read_and_write_as_nginx_writes_them() {
        let burst: LimitReq = "10r/s burst=5 nodelay".parse().unwrap();
        assert_eq!(burst, LimitReq::per_second(10).burst_nodelay(5));
        assert_eq!(burst.to_string(), "10r/s burst=5 nodelay");
        assert_eq!("1r/s".parse(), Ok(LimitReq::per_second(1)));
        assert_eq!(LimitReq::per_second(1).to_string(), "1r/s");
        for junk in [
            "",
            "10",
            "10r/m",
            "0r/s",
            "1.5r/s",
            "10r/s burst=x",
            "10r/s delay=2",
        ] {
            assert!(junk.parse::<LimitReq>().is_err(), "{junk:?} parsed");
        }
    }

    /// 60 at 1/s: 59 s with no burst; `burst=5 nodelay` lets 6 through at once: 54 s.
    #[test]
    fn ideal_times() {
        assert_eq!(LimitReq::per_second(1).ideal_seconds(60), 59.0);
        assert_eq!(
            LimitReq::per_second(1).burst_nodelay(5).ideal_seconds(60),
            54.0
        );
        assert!((LimitReq::per_second(10).ideal_seconds(30) - 2.9).abs() < 1e-9);
        assert_eq!(LimitReq::per_second(10).ideal_seconds(1), 0.0);
    }

    #[test]
    fn the_config_has_the_limit_and_keeps_to_its_prefix() {
        let prefix = Path::new("/tmp/p");
        let text = config(
            prefix,
            "127.0.0.1:8080".parse().unwrap(),
            "127.0.0.1:9000".parse().unwrap(),
            LimitReq::per_second(10).burst_nodelay(5),
        );
        assert!(text.contains("limit_req_zone \"all\" zone=limit:1m rate=10r/s;"));
        assert!(text.contains("limit_req zone=limit burst=5 nodelay;"));
        assert!(text.contains("limit_req_status 429;"));
        assert!(text.contains("listen 127.0.0.1:8080;"));
        assert!(text.contains("server 127.0.0.1:9000;"));
        let plain = config(
            prefix,
            "127.0.0.1:8080".parse().unwrap(),
            "127.0.0.1:9000".parse().unwrap(),
            LimitReq::per_second(1),
        );
        assert!(plain.contains("limit_req zone=limit;"));
        // Every path nginx writes (pid, two logs, five temporary paths) is inside the prefix.
        let paths: Vec<&str> = plain.lines().filter(|l| l.contains("\"/")).collect();
        assert_eq!(paths.len(), 8, "{plain}");
        assert!(paths.iter().all(|l| l.contains("\"/tmp/p/")), "{plain}");
    }

    /// A port something else listens on is given up as soon as nginx says so, not after the
    /// 2.5 s nginx itself keeps trying.
    #[test]
    fn a_taken_port_is_reported_at_once() {
        let Some(bin) = binary() else {
            return skip_test();
        };
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let prefix = make_prefix().unwrap();
        let start = Instant::now();
        let launched = launch(
            &bin,
            &prefix,
            taken.local_addr().unwrap(),
            "127.0.0.1:9".parse().unwrap(),
            LimitReq::per_second(1),
        );
        let elapsed = start.elapsed();
        fs::remove_dir_all(&prefix).unwrap();
        match launched {
            Err(Launch::PortTaken(log)) => assert!(log.contains("bind()"), "{log}"),
            Err(Launch::Failed(e)) => panic!("{e}"),
            Ok(_) => panic!("nginx started on a taken port"),
        }
        assert!(elapsed < Duration::from_millis(2000), "{elapsed:?}");
    }

    #[test]
    fn access_log_lines() {
        let line = parse_line("1796541316.586 0.250 429 POST /v0.1/messages").unwrap();
        assert!((line.at - 1796541316.336).abs() < 1e-6, "{line:?}");
        assert_eq!(line.took, 0.25);
        assert_eq!(line.status, 429);
        assert_eq!(
            (line.method.as_str(), line.uri.as_str()),
            ("POST", "/v0.1/messages")
        );
        assert_eq!(parse_line("junk"), None);
    }
}
