//! Delivery of one notification to one notifier: signed, retried until it is accepted,
//! refused for good, or `max_age` has passed.
//!
//! Before every attempt the host is resolved and each address checked against the SSRF
//! guard ([`AllowList`]); the request then goes to exactly the addresses checked (the
//! client is built with them pinned), so a DNS answer that changes between the check and
//! the connection (DNS rebinding) cannot redirect it. Redirects are not followed and
//! proxies from the environment are not used, for the same reason.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logpipe_common::Timestamp;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::{StatusCode, redirect};
use tracing::{info, warn};
use url::{Host, Url};

use super::alertmanager::{self, Context};
use super::allow::AllowList;
use super::error::DeliveryError;
use super::notification::Notification;
use super::notifiers::{Notifier, redacted};
use super::retry::parse_retry_after;
use super::signature::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, sign};
use crate::telemetry;

/// How much of a rejecting receiver's answer goes into the error.
const DETAIL_BYTES: usize = 512;

const USER_AGENT_VALUE: &str = concat!("logpipe-alerting/", env!("CARGO_PKG_VERSION"));

/// Alerts posted to Alertmanager in one request at most, when renewed.
const RENEWAL_BATCH: usize = 500;

/// Sends notifications over HTTP.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    allow: AllowList,
    /// The web UI that alerts link to (`generatorURL`).
    ui_url: Option<Url>,
}

/// A notification the receiver accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivered {
    /// Requests made, the successful one included.
    pub attempts: u32,
    /// The receiver's 2xx status.
    pub status: u16,
}

/// How an attempt failed.
enum Failure {
    /// Sending again cannot help.
    Permanent(DeliveryError),
    /// Worth another attempt, after `retry_after` when the receiver asked for it.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
}

fn transient(reason: String) -> Failure {
    Failure::Transient {
        reason,
        retry_after: None,
    }
}

impl Sender {
    /// A sender that refuses internal addresses outside `allow`.
    pub(crate) fn new(allow: AllowList) -> Sender {
        Sender {
            allow,
            ui_url: None,
        }
    }

    /// Alerts link to searches of this web UI.
    pub(crate) fn with_ui_url(mut self, ui_url: Option<Url>) -> Sender {
        self.ui_url = ui_url;
        self
    }

    /// What bodies rendered now say beyond their notifications.
    fn context(&self, notifier: &Notifier) -> Context<'_> {
        Context {
            now: Timestamp::now(),
            lease: notifier.lease(),
            ui_url: self.ui_url.as_ref(),
        }
    }

    /// Posts alerts firing already to an `alertmanager-api` notifier again, with a new
    /// lease, in batches of [`RENEWAL_BATCH`]. Retries stop after one resend period: the
    /// next renewal supersedes them. Returns how many alerts were accepted.
    #[tracing::instrument(skip_all, fields(notifier = %notifier.name, alerts = notifications.len()))]
    pub(crate) async fn renew(&self, notifier: &Notifier, notifications: &[Notification]) -> usize {
        let mut notifier = notifier.clone();
        notifier.retry.max_age = notifier.retry.max_age.min(notifier.resend);
        let mut accepted = 0;
        for batch in notifications.chunks(RENEWAL_BATCH) {
            let batch: Vec<&Notification> = batch.iter().collect();
            let mut ids = String::new();
            for notification in &batch {
                ids.push_str(&notification.id);
            }
            let id = format!(
                "renewal-{:016x}-{}",
                xxhash_rust::xxh3::xxh3_64(ids.as_bytes()),
                Timestamp::now().unix_nanos() / 1_000_000_000
            );
            let render =
                || serde_json::to_vec(&alertmanager::alerts(&batch, &self.context(&notifier)));
            match self.send(&notifier, &id, render).await {
                Ok(_) => accepted += batch.len(),
                Err(error) => warn!(%error, "alerts not renewed"),
            }
        }
        accepted
    }

    /// Delivers `notification` to `notifier`, retrying 5xx answers, 429, timeouts and
    /// connection errors with backoff (or the receiver's `Retry-After`) until
    /// `notifier.retry.max_age` after the first attempt. Other 4xx answers, redirects and
    /// refused addresses end it at once.
    #[tracing::instrument(skip_all, fields(notifier = %notifier.name, id = %notification.id))]
    pub(crate) async fn deliver(
        &self,
        notifier: &Notifier,
        notification: &Notification,
    ) -> Result<Delivered, DeliveryError> {
        let render = || {
            notifier
                .format
                .render(&notifier.name, notification, &self.context(notifier))
        };
        self.send(notifier, &notification.id, render).await
    }

    /// Posts the body `render` makes, rendered again for each attempt (an Alertmanager
    /// lease runs from the moment it is sent), with retries.
    async fn send(
        &self,
        notifier: &Notifier,
        id: &str,
        render: impl Fn() -> Result<Vec<u8>, serde_json::Error>,
    ) -> Result<Delivered, DeliveryError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let body = match render() {
                Ok(body) => body,
                Err(source) => {
                    return Err(failed(
                        notifier,
                        DeliveryError::Encode {
                            notifier: notifier.name.clone(),
                            source,
                        },
                    ));
                }
            };
            let (reason, retry_after) = match self.attempt(notifier, id, &body, attempt).await {
                Ok(status) => {
                    telemetry::notification_delivered(&notifier.name);
                    info!(
                        attempts = attempt,
                        status = status.as_u16(),
                        "notification delivered"
                    );
                    return Ok(Delivered {
                        attempts: attempt,
                        status: status.as_u16(),
                    });
                }
                Err(Failure::Permanent(error)) => return Err(failed(notifier, error)),
                Err(Failure::Transient {
                    reason,
                    retry_after,
                }) => (reason, retry_after),
            };
            let wait = retry_after.unwrap_or_else(|| notifier.retry.backoff(attempt));
            let elapsed = started.elapsed();
            if elapsed + wait > notifier.retry.max_age {
                let error = DeliveryError::Exhausted {
                    notifier: notifier.name.clone(),
                    attempts: attempt,
                    elapsed,
                    last: reason,
                };
                return Err(failed(notifier, error));
            }
            telemetry::notification_retried(&notifier.name);
            warn!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                %reason,
                "notification attempt failed, retrying"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One request; the status when it is a 2xx.
    async fn attempt(
        &self,
        notifier: &Notifier,
        id: &str,
        body: &[u8],
        attempt: u32,
    ) -> Result<StatusCode, Failure> {
        let client = self.pinned_client(notifier, attempt).await?;
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut request = client
            .post(notifier.url.clone())
            .timeout(notifier.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(WEBHOOK_ID, id)
            .header(WEBHOOK_TIMESTAMP, timestamp)
            .body(body.to_vec());
        if let Some(secret) = &notifier.secret {
            request = request.header(WEBHOOK_SIGNATURE, sign(secret, id, timestamp, body));
        }
        if let Some(auth) = &notifier.auth {
            request = auth.apply(request);
        }
        let response = request
            .send()
            .await
            .map_err(|error| request_failure(error, notifier, attempt))?;
        let status = response.status();
        if status.is_success() {
            return Ok(status);
        }
        if status.is_redirection() {
            return Err(Failure::Permanent(DeliveryError::Redirected {
                notifier: notifier.name.clone(),
                status: status.as_u16(),
                attempts: attempt,
            }));
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, SystemTime::now()));
            return Err(Failure::Transient {
                reason: format!("the receiver answered {status}"),
                retry_after,
            });
        }
        if status.is_client_error() {
            return Err(Failure::Permanent(DeliveryError::Rejected {
                notifier: notifier.name.clone(),
                status: status.as_u16(),
                detail: excerpt(response).await,
                attempts: attempt,
            }));
        }
        Err(transient(format!("the receiver answered {status}")))
    }

    /// A client that connects only to the checked addresses of the notifier's host.
    async fn pinned_client(
        &self,
        notifier: &Notifier,
        attempt: u32,
    ) -> Result<reqwest::Client, Failure> {
        let url = &notifier.url;
        let builder = reqwest::Client::builder()
            .redirect(redirect::Policy::none())
            .no_proxy()
            .connect_timeout(notifier.timeout)
            .pool_max_idle_per_host(0);
        let builder = match url.host() {
            Some(Host::Ipv4(ip)) => {
                self.guard(notifier, attempt, IpAddr::V4(ip))?;
                builder
            }
            Some(Host::Ipv6(ip)) => {
                self.guard(notifier, attempt, IpAddr::V6(ip))?;
                builder
            }
            Some(Host::Domain(domain)) => {
                let port = url.port_or_known_default().unwrap_or(80);
                let addresses = resolve(domain, port, notifier.timeout).await?;
                for address in &addresses {
                    self.guard(notifier, attempt, address.ip())?;
                }
                builder.resolve_to_addrs(domain, &addresses)
            }
            None => {
                return Err(Failure::Permanent(DeliveryError::Request {
                    notifier: notifier.name.clone(),
                    message: format!("{} has no host", redacted(url)),
                    attempts: attempt,
                }));
            }
        };
        builder.build().map_err(|error| {
            Failure::Permanent(DeliveryError::Request {
                notifier: notifier.name.clone(),
                message: format!("building the HTTP client: {}", chain(&error)),
                attempts: attempt,
            })
        })
    }

    fn guard(&self, notifier: &Notifier, attempt: u32, address: IpAddr) -> Result<(), Failure> {
        self.allow.check(address).map_err(|forbidden| {
            Failure::Permanent(DeliveryError::Refused {
                notifier: notifier.name.clone(),
                host: notifier.url.host_str().unwrap_or_default().to_string(),
                address,
                category: forbidden.category,
                attempts: attempt,
            })
        })
    }
}

/// Counts and logs a notification given up on.
fn failed(notifier: &Notifier, error: DeliveryError) -> DeliveryError {
    telemetry::notification_failed(&notifier.name);
    warn!(attempts = error.attempts(), %error, "notification not delivered");
    error
}

/// The addresses of `domain`, within `timeout`. Failures are transient: DNS recovers.
async fn resolve(domain: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, Failure> {
    match tokio::time::timeout(timeout, tokio::net::lookup_host((domain, port))).await {
        Err(_) => Err(transient(format!("resolving {domain} timed out"))),
        Ok(Err(error)) => Err(transient(format!("resolving {domain}: {error}"))),
        Ok(Ok(addresses)) => {
            let addresses: Vec<SocketAddr> = addresses.collect();
            if addresses.is_empty() {
                Err(transient(format!("{domain} resolved to no address")))
            } else {
                Ok(addresses)
            }
        }
    }
}

/// Classifies a failed request; the URL is left out of the text (it may hold a token).
fn request_failure(error: reqwest::Error, notifier: &Notifier, attempt: u32) -> Failure {
    let error = error.without_url();
    if error.is_builder() {
        Failure::Permanent(DeliveryError::Request {
            notifier: notifier.name.clone(),
            message: chain(&error),
            attempts: attempt,
        })
    } else if error.is_timeout() {
        transient(format!("no answer within {:?}", notifier.timeout))
    } else {
        transient(chain(&error))
    }
}

/// An error and its causes, `outer: inner: innermost`.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The start of a rejecting receiver's answer, on one line.
async fn excerpt(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < DETAIL_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    bytes.truncate(DETAIL_BYTES);
    let text = String::from_utf8_lossy(&bytes);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        "no reason given".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use sha2::{Digest, Sha256};
    use url::Url;

    use super::*;
    use crate::notify::auth::Auth;
    use crate::notify::notification::tests::sample;
    use crate::notify::payload::Format;
    use crate::notify::receiver::{Receiver, Reply};
    use crate::notify::retry::RetryPolicy;
    use crate::notify::signature::{Secret, verify};

    /// The raw signing key of the tests; the notifier gets it as `whsec_<base64>`.
    const KEY: &[u8] = b"logpipe-test-signing-key-32bytes";

    fn loopback_allowed() -> Sender {
        Sender::new(AllowList::parse("127.0.0.0/8,::1/128").unwrap())
    }

    /// A notifier with test-sized waits.
    fn notifier(url: Url, format: Format) -> Notifier {
        let mut notifier = Notifier::new("test", url, format);
        notifier.timeout = Duration::from_secs(2);
        notifier.retry = RetryPolicy {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(40),
            max_age: Duration::from_secs(5),
        };
        notifier
    }

    /// HMAC-SHA256 written out from RFC 2104 over plain SHA-256, independent of the
    /// `hmac` crate the sender uses.
    fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
        let mut block = [0u8; 64];
        if key.len() > block.len() {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let inner_pad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
        let outer_pad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new()
            .chain_update(&inner_pad)
            .chain_update(message)
            .finalize();
        Sha256::new()
            .chain_update(&outer_pad)
            .chain_update(inner)
            .finalize()
            .to_vec()
    }

    fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
        headers.get(name).unwrap().to_str().unwrap()
    }

    #[tokio::test]
    async fn every_format_arrives_as_json_in_its_shape() {
        let receiver = Receiver::start(vec![Reply::status(200)]).await;
        let sender = loopback_allowed();
        for format in [Format::Alertmanager, Format::Slack, Format::Generic] {
            let delivered = sender
                .deliver(&notifier(receiver.url(), format), &sample())
                .await
                .unwrap();
            assert_eq!(
                delivered,
                Delivered {
                    attempts: 1,
                    status: 200
                }
            );
        }
        let received = receiver.received();
        assert_eq!(received.len(), 3);
        for request in &received {
            assert_eq!(header(&request.headers, "content-type"), "application/json");
        }
        let bodies: Vec<serde_json::Value> = received
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        assert_eq!(bodies[0]["version"], "4");
        assert_eq!(bodies[0]["receiver"], "test");
        assert_eq!(
            bodies[0]["alerts"][0]["labels"]["alertname"],
            "checkout-errors"
        );
        assert!(bodies[1]["text"].as_str().unwrap().starts_with("[FIRING]"));
        assert_eq!(bodies[2]["id"], sample().id);
        assert_eq!(bodies[2]["rule"], "checkout-errors");
    }

    #[tokio::test]
    async fn signature_verifies_independently_and_the_id_survives_retries() {
        let receiver = Receiver::start(vec![Reply::status(500), Reply::status(200)]).await;
        let mut target = notifier(receiver.url(), Format::Generic);
        let secret_text = format!("whsec_{}", STANDARD.encode(KEY));
        target.secret = Some(Secret::parse(&secret_text).unwrap());
        let notification = sample();
        let delivered = loopback_allowed()
            .deliver(&target, &notification)
            .await
            .unwrap();
        assert_eq!(delivered.attempts, 2);

        let received = receiver.received();
        assert_eq!(received.len(), 2);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        for request in &received {
            let id = header(&request.headers, "webhook-id");
            assert_eq!(id, notification.id);
            let timestamp = header(&request.headers, "webhook-timestamp");
            let seconds: i64 = timestamp.parse().unwrap();
            assert!((now - seconds).abs() < 60, "{seconds} vs {now}");
            let mut signed = format!("{id}.{timestamp}.").into_bytes();
            signed.extend_from_slice(&request.body);
            let expected = format!("v1,{}", STANDARD.encode(hmac_sha256(KEY, &signed)));
            assert_eq!(header(&request.headers, "webhook-signature"), expected);
            verify(
                target.secret.as_ref().unwrap(),
                &request.headers,
                &request.body,
            )
            .unwrap();
        }
        assert_eq!(received[0].body, received[1].body);
    }

    #[tokio::test]
    async fn credentials_go_in_the_authorization_header() {
        let receiver = Receiver::start(vec![Reply::status(200)]).await;
        let mut target = notifier(receiver.url(), Format::Generic);
        target.auth = Some(Auth::bearer("t0ken").unwrap());
        loopback_allowed()
            .deliver(&target, &sample())
            .await
            .unwrap();
        target.auth = Some(Auth::basic("ops:pw").unwrap());
        loopback_allowed()
            .deliver(&target, &sample())
            .await
            .unwrap();
        let received = receiver.received();
        assert_eq!(
            header(&received[0].headers, "authorization"),
            "Bearer t0ken"
        );
        assert_eq!(
            header(&received[1].headers, "authorization"),
            format!("Basic {}", STANDARD.encode("ops:pw"))
        );
    }

    #[tokio::test]
    async fn a_renewal_posts_every_firing_alert_with_a_new_lease() {
        let receiver = Receiver::start(vec![Reply::status(200)]).await;
        let mut target = notifier(receiver.url(), Format::AlertmanagerApi);
        target.resend = Duration::from_secs(30);
        let ui = Url::parse("https://logs.example.com/").unwrap();
        let sender = loopback_allowed().with_ui_url(Some(ui));
        let mut other = sample();
        other.id = "other".into();
        other
            .group
            .insert("k8s.pod".into(), "checkout-other".into());
        let before = Timestamp::now().unix_nanos();
        assert_eq!(sender.renew(&target, &[sample(), other]).await, 2);
        let received = receiver.received();
        assert_eq!(received.len(), 1, "one request");
        let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
        let alerts = body.as_array().unwrap();
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[1]["labels"]["k8s_pod"], "checkout-other");
        for alert in alerts {
            let ends_at = Timestamp::parse_rfc3339(alert["endsAt"].as_str().unwrap())
                .unwrap()
                .unix_nanos();
            // Four resends of 30 s from now.
            assert!(ends_at >= before + 120_000_000_000, "{alert}");
            assert!(ends_at < before + 125_000_000_000, "{alert}");
            assert!(
                alert["generatorURL"]
                    .as_str()
                    .unwrap()
                    .starts_with("https://logs.example.com/?q=")
            );
        }
    }

    #[tokio::test]
    async fn unsigned_notifiers_send_no_signature() {
        let receiver = Receiver::start(vec![Reply::status(204)]).await;
        let delivered = loopback_allowed()
            .deliver(&notifier(receiver.url(), Format::Generic), &sample())
            .await
            .unwrap();
        assert_eq!(delivered.status, 204);
        let received = receiver.received();
        assert!(received[0].headers.get("webhook-signature").is_none());
        assert_eq!(header(&received[0].headers, "webhook-id"), sample().id);
    }

    #[tokio::test]
    async fn a_server_error_then_success_is_delivered_on_the_second_attempt() {
        let receiver = Receiver::start(vec![Reply::status(500), Reply::status(200)]).await;
        let delivered = loopback_allowed()
            .deliver(&notifier(receiver.url(), Format::Slack), &sample())
            .await
            .unwrap();
        assert_eq!(
            delivered,
            Delivered {
                attempts: 2,
                status: 200
            }
        );
        assert_eq!(receiver.received().len(), 2);
    }

    #[tokio::test]
    async fn too_many_requests_waits_for_retry_after() {
        let receiver = Receiver::start(vec![
            Reply::status(429).header("retry-after", "1"),
            Reply::status(200),
        ])
        .await;
        let delivered = loopback_allowed()
            .deliver(&notifier(receiver.url(), Format::Generic), &sample())
            .await
            .unwrap();
        assert_eq!(delivered.attempts, 2);
        let received = receiver.received();
        let gap = received[1].at - received[0].at;
        // The backoff alone would wait at most 10ms.
        assert!(gap >= Duration::from_millis(950), "{gap:?}");
        assert!(gap < Duration::from_secs(3), "{gap:?}");
    }

    #[tokio::test]
    async fn a_retry_after_beyond_max_age_gives_up_at_once() {
        let receiver = Receiver::start(vec![Reply::status(503).header("retry-after", "60")]).await;
        let mut target = notifier(receiver.url(), Format::Generic);
        target.retry.max_age = Duration::from_secs(1);
        let started = Instant::now();
        let error = loopback_allowed()
            .deliver(&target, &sample())
            .await
            .unwrap_err();
        assert!(
            matches!(error, DeliveryError::Exhausted { attempts: 1, .. }),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(receiver.received().len(), 1);
    }

    #[tokio::test]
    async fn a_client_error_is_permanent_and_not_retried() {
        let receiver = Receiver::start(vec![
            Reply::status(400).body("invalid_payload\n"),
            Reply::status(200),
        ])
        .await;
        let error = loopback_allowed()
            .deliver(&notifier(receiver.url(), Format::Slack), &sample())
            .await
            .unwrap_err();
        match &error {
            DeliveryError::Rejected {
                status,
                detail,
                attempts,
                ..
            } => {
                assert_eq!(*status, 400);
                assert_eq!(detail, "invalid_payload");
                assert_eq!(*attempts, 1);
            }
            other => panic!("expected a rejection, got {other}"),
        }
        assert_eq!(receiver.received().len(), 1);
    }

    #[tokio::test]
    async fn retries_stop_when_max_age_is_exceeded() {
        let receiver = Receiver::start(vec![Reply::status(502)]).await;
        let mut target = notifier(receiver.url(), Format::Generic);
        target.retry.max_age = Duration::from_millis(300);
        let started = Instant::now();
        let error = loopback_allowed()
            .deliver(&target, &sample())
            .await
            .unwrap_err();
        let DeliveryError::Exhausted { attempts, last, .. } = &error else {
            panic!("expected exhaustion, got {error}");
        };
        assert!(*attempts >= 2, "{error}");
        assert_eq!(*attempts as usize, receiver.received().len());
        assert!(last.contains("502"), "{last}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_timed_out_attempt_is_retried() {
        let receiver = Receiver::start(vec![
            Reply::status(200).delayed(Duration::from_millis(1500)),
            Reply::status(200),
        ])
        .await;
        let mut target = notifier(receiver.url(), Format::Generic);
        target.timeout = Duration::from_millis(200);
        let delivered = loopback_allowed()
            .deliver(&target, &sample())
            .await
            .unwrap();
        assert_eq!(delivered.attempts, 2);
    }

    #[tokio::test]
    async fn connection_errors_are_retried_until_max_age() {
        let closed = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap()
        };
        let url = Url::parse(&format!("http://{closed}/hook")).unwrap();
        let mut target = notifier(url, Format::Generic);
        target.retry.max_age = Duration::from_millis(200);
        let error = loopback_allowed()
            .deliver(&target, &sample())
            .await
            .unwrap_err();
        assert!(
            matches!(error, DeliveryError::Exhausted { attempts, .. } if attempts >= 2),
            "{error}"
        );
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let elsewhere = Receiver::start(vec![Reply::status(200)]).await;
        let redirecting = Receiver::start(vec![
            Reply::status(302).header("location", elsewhere.url().to_string()),
        ])
        .await;
        let error = loopback_allowed()
            .deliver(&notifier(redirecting.url(), Format::Generic), &sample())
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                DeliveryError::Redirected {
                    status: 302,
                    attempts: 1,
                    ..
                }
            ),
            "{error}"
        );
        assert_eq!(redirecting.received().len(), 1);
        assert!(elsewhere.received().is_empty());
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let receiver = Receiver::start(vec![Reply::status(200)]).await;
        let by_name =
            Url::parse(&format!("http://localhost:{}/hook", receiver.addr().port())).unwrap();
        let sender = Sender::new(AllowList::default());
        for url in [receiver.url(), by_name.clone()] {
            let error = sender
                .deliver(&notifier(url, Format::Generic), &sample())
                .await
                .unwrap_err();
            let DeliveryError::Refused {
                address, category, ..
            } = &error
            else {
                panic!("expected a refusal, got {error}");
            };
            assert!(address.is_loopback());
            assert_eq!(*category, "loopback");
            assert!(error.to_string().contains(&address.to_string()), "{error}");
        }
        assert!(receiver.received().is_empty());

        // The name resolves, is checked, and the request goes to the pinned address.
        let delivered = loopback_allowed()
            .deliver(&notifier(by_name, Format::Generic), &sample())
            .await
            .unwrap();
        assert_eq!(delivered.attempts, 1);
        assert_eq!(receiver.received().len(), 1);
    }

    #[tokio::test]
    async fn the_metadata_address_is_refused_before_any_connection() {
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[::ffff:169.254.169.254]/latest/meta-data/",
            "http://[::ffff:a9fe:a9fe]:8080/",
        ] {
            let mut target = notifier(Url::parse(url).unwrap(), Format::Generic);
            // A connection attempt would take up to this long to fail here.
            target.timeout = Duration::from_secs(10);
            let started = Instant::now();
            let error = loopback_allowed()
                .deliver(&target, &sample())
                .await
                .unwrap_err();
            assert!(
                matches!(
                    error,
                    DeliveryError::Refused {
                        category: "link-local",
                        attempts: 1,
                        ..
                    }
                ),
                "{url}: {error}"
            );
            assert!(error.to_string().contains("169.254.169.254"), "{error}");
            assert!(started.elapsed() < Duration::from_secs(1));
        }
    }

    #[tokio::test]
    async fn outcomes_are_counted_per_notifier() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let _local = metrics::set_default_local_recorder(&recorder);
        let flaky = Receiver::start(vec![Reply::status(500), Reply::status(200)]).await;
        let refusing = Receiver::start(vec![Reply::status(404)]).await;
        let sender = loopback_allowed();
        sender
            .deliver(&notifier(flaky.url(), Format::Generic), &sample())
            .await
            .unwrap();
        sender
            .deliver(&notifier(refusing.url(), Format::Generic), &sample())
            .await
            .unwrap_err();
        let rendered = handle.render();
        for line in [
            r#"logpipe_alerting_notifications_delivered_total{notifier="test"} 1"#,
            r#"logpipe_alerting_notifications_retried_total{notifier="test"} 1"#,
            r#"logpipe_alerting_notifications_failed_total{notifier="test"} 1"#,
        ] {
            assert!(rendered.contains(line), "{line} missing from\n{rendered}");
        }
    }

    #[tokio::test]
    async fn errors_never_show_the_url_path() {
        let receiver = Receiver::start(vec![Reply::status(500)]).await;
        let mut url = receiver.url();
        url.set_path("/services/T0/B0/s3cr3tT0ken");
        let mut target = notifier(url, Format::Slack);
        target.retry.max_age = Duration::from_millis(50);
        let error = loopback_allowed()
            .deliver(&target, &sample())
            .await
            .unwrap_err();
        assert!(!error.to_string().contains("s3cr3tT0ken"), "{error}");
        assert!(!format!("{error:?}").contains("s3cr3tT0ken"), "{error:?}");
    }
}
