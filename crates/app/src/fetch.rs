//! Fetching customers' images from the store (the URLs in line-item meta) into object storage,
//! with a byte limit and a time bound; `file:` URLs only when the operator allows them (the CLI
//! importing a local order file).
//!
//! A photo URL comes from a customer, so fetching it must not reach inside the operator's
//! network (SSRF): only http(s), and only to public addresses. The check is made on the address
//! actually connected to: host names go through a resolver that drops every address that is not
//! public (so DNS cannot point a public-looking name at 127.0.0.1), literal IP hosts (which skip
//! the resolver, including `127.1` and `2130706433`) are checked before the request, and every
//! redirect hop is checked again. `app.fetch.allow_hosts` lets named hosts or networks through
//! (tests fetch from 127.0.0.1). A refused or failed fetch says only "address not allowed" or
//! "could not fetch the photo", never what the target answered at the connection level, so the
//! import API cannot be used to scan ports; the details go to the log.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::AppError;

pub use renderer::{ForeignFormat, ImageKind, UnsupportedImage};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FetchSettings {
    pub max_bytes: u64,
    pub timeout_secs: u64,
    /// Allow `file:` URLs and plain paths (relative to `base_dir`). Off for the HTTP API.
    pub allow_files: bool,
    /// Hosts and networks photo downloads may reach although they are not public addresses:
    /// host names (`photos.internal`), addresses (`127.0.0.1`, `::1`) or CIDR networks
    /// (`10.0.0.0/8`). Empty (the default): public addresses only.
    pub allow_hosts: Vec<String>,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            max_bytes: 50 * 1024 * 1024,
            timeout_secs: 60,
            allow_files: false,
            allow_hosts: vec![],
        }
    }
}

/// Which addresses photo downloads may connect to: public ones, plus the allow-list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AddressPolicy {
    nets: Vec<IpNet>,
    names: Vec<String>,
}

impl AddressPolicy {
    /// Parse `fetch.allow_hosts`; an entry that is neither a network, an address nor a host
    /// name is an error naming it.
    pub fn new(allow_hosts: &[String]) -> Result<AddressPolicy, String> {
        let mut policy = AddressPolicy::default();
        for entry in allow_hosts {
            let e = entry.trim();
            if let Ok(net) = e.parse::<IpNet>() {
                policy.nets.push(net);
            } else if let Ok(ip) = e.trim_matches(['[', ']']).parse::<IpAddr>() {
                policy.nets.push(IpNet::from(ip));
            } else if !e.is_empty()
                && e.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                policy
                    .names
                    .push(e.trim_end_matches('.').to_ascii_lowercase());
            } else {
                return Err(format!(
                    "app.fetch.allow_hosts: {entry:?} is not a host name, an address or a CIDR network"
                ));
            }
        }
        Ok(policy)
    }

    /// May a download connect to `ip`?
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.nets.iter().any(|n| n.contains(&ip))
    }

    /// Is this host name on the allow-list (all its addresses then allowed)?
    pub fn allows_name(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.names.contains(&host)
    }

    /// The check for a URL before a request or a redirect: http(s), and a literal IP host
    /// (which no resolver sees) must be allowed. Host names are checked when resolved.
    pub fn check_url(&self, url: &url::Url) -> Result<(), NotAllowed> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(NotAllowed);
        }
        match url.host() {
            Some(url::Host::Ipv4(ip)) if !self.allows_ip(IpAddr::V4(ip)) => Err(NotAllowed),
            Some(url::Host::Ipv6(ip))
                if !self.allows_ip(IpAddr::V6(ip)) && !self.allows_name(&format!("{ip}")) =>
            {
                Err(NotAllowed)
            }
            None => Err(NotAllowed),
            _ => Ok(()),
        }
    }
}

/// A download was refused because of where it would connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("address not allowed")]
pub struct NotAllowed;

/// Whether `ip` is an ordinary public unicast address: not loopback, private, link-local
/// (cloud metadata at 169.254.169.254), CGNAT (100.64/10), multicast, unspecified, broadcast,
/// reserved, documentation or benchmark, nor an IPv6 address embedding one of those
/// (IPv4-mapped, IPv4-compatible, NAT64, 6to4), unique-local (fd00:ec2::254 metadata) or
/// link-local.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network", unspecified
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    if s[..6] == [0; 6] {
        // ::, ::1, and IPv4-compatible ::a.b.c.d (deprecated).
        return !(ip.is_unspecified() || ip.is_loopback()) && is_public_v4(embedded_v4(s));
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // NAT64 reaches the embedded IPv4 address.
        return is_public_v4(embedded_v4(s));
    }
    if s[0] == 0x2002 {
        // 6to4: the IPv4 address is in the second and third groups.
        let v4 = Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8);
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00 // unique local (fd00:ec2::254 metadata)
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
        || (s[0] == 0x2001 && s[1] < 0x0200)) // IETF protocol assignments (Teredo, benchmarking)
}

fn embedded_v4(s: [u16; 8]) -> Ipv4Addr {
    Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8)
}

/// A DNS resolver that keeps only the addresses the policy allows, so the connection goes only
/// to an allowed address whatever the name resolves to (and whenever: every new connection,
/// every redirect hop, resolves again through here).
struct GuardedResolver {
    policy: Arc<AddressPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let by_name = policy.allows_name(&host);
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| by_name || policy.allows_ip(a.ip()))
                .collect();
            if allowed.is_empty() {
                tracing::warn!(host, addresses = ?found, "request refused: the host resolves only to addresses that are not allowed");
                return Err(Box::new(NotAllowed) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client for photo downloads: the guarded resolver, redirects (at most 5) re-checked
/// hop by hop, no proxy from the environment (a proxy would connect on our behalf, unchecked),
/// and the time bound.
pub fn http_client(settings: &FetchSettings) -> Result<reqwest::Client, String> {
    let policy = Arc::new(AddressPolicy::new(&settings.allow_hosts)?);
    let hops = policy.clone();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(settings.timeout_secs))
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > 5 {
                return attempt.error("too many redirects");
            }
            match hops.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e),
            }
        }))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

/// The HTTP client for outbound webhooks: the same guarded resolver and no proxy as photo
/// downloads, but redirects are never followed (a 3xx is the receiver's answer) and the time
/// bound is the webhook's.
pub fn webhook_client(
    settings: &FetchSettings,
    timeout: std::time::Duration,
) -> Result<reqwest::Client, String> {
    let policy = Arc::new(AddressPolicy::new(&settings.allow_hosts)?);
    reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { policy }))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("HTTP client: {e}"))
}

fn err(url: &str, message: impl Into<String>) -> AppError {
    AppError::ClientImage {
        url: url.to_string(),
        message: message.into(),
        retryable: false,
    }
}

/// A failure that may pass: the host unreachable, overloaded or slow.
fn may_pass(url: &str, message: impl Into<String>) -> AppError {
    AppError::ClientImage {
        url: url.to_string(),
        message: message.into(),
        retryable: true,
    }
}

const NOT_ALLOWED: &str = "could not fetch the photo: address not allowed";
const FAILED: &str = "could not fetch the photo";

/// Whether `e` (or what caused it) is the address policy refusing.
fn refused_by_policy(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if e.downcast_ref::<NotAllowed>().is_some() {
            return true;
        }
        cur = e.source();
    }
    false
}

/// The message for a failed request: refused by policy, or a generic failure (the details,
/// which would tell an open port from a closed one, only in the log).
fn transport_error(url: &str, e: reqwest::Error) -> AppError {
    if refused_by_policy(&e) {
        tracing::warn!(url, "photo download refused: address not allowed");
        err(url, NOT_ALLOWED)
    } else {
        tracing::warn!(url, error = %e, "photo download failed");
        may_pass(url, FAILED)
    }
}

/// Download one image. `base_dir` resolves relative file paths when files are allowed.
pub async fn fetch_image(
    http: &reqwest::Client,
    settings: &FetchSettings,
    allow_files: bool,
    base_dir: Option<&std::path::Path>,
    url: &str,
) -> Result<Bytes, AppError> {
    let parsed = url::Url::parse(url);
    match parsed {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
            let policy = AddressPolicy::new(&settings.allow_hosts)
                .map_err(|e| AppError::Config(e.to_string()))?;
            if policy.check_url(&u).is_err() {
                tracing::warn!(url, "photo download refused: address not allowed");
                return Err(err(url, NOT_ALLOWED));
            }
            let resp = http
                .get(u)
                .send()
                .await
                .map_err(|e| transport_error(url, e))?;
            // The status is the photo host's plain HTTP answer (a dead link is worth naming to
            // the merchant); only allowed addresses get this far.
            if !resp.status().is_success() {
                let status = resp.status().as_u16();
                let message = format!("{FAILED}: HTTP {status}");
                return Err(if status == 408 || status == 429 || status >= 500 {
                    may_pass(url, message)
                } else {
                    err(url, message)
                });
            }
            if let Some(len) = resp.content_length()
                && len > settings.max_bytes
            {
                return Err(err(
                    url,
                    format!("{len} bytes is over the limit of {}", settings.max_bytes),
                ));
            }
            let mut body = BytesMut::new();
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| transport_error(url, e))?;
                if (body.len() + chunk.len()) as u64 > settings.max_bytes {
                    return Err(err(
                        url,
                        format!("over the limit of {} bytes", settings.max_bytes),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body.freeze())
        }
        _ if !allow_files => Err(err(url, "only http and https image URLs are accepted")),
        result => {
            let path = match result {
                Ok(u) if u.scheme() == "file" => u
                    .to_file_path()
                    .map_err(|_| err(url, "not a local file path"))?,
                Ok(u) => return Err(err(url, format!("unsupported URL scheme {:?}", u.scheme()))),
                Err(_) => match base_dir {
                    Some(base) => base.join(url),
                    None => std::path::PathBuf::from(url),
                },
            };
            let meta = tokio::fs::metadata(&path)
                .await
                .map_err(|e| err(url, format!("{}: {e}", path.display())))?;
            if meta.len() > settings.max_bytes {
                return Err(err(
                    url,
                    format!(
                        "{} bytes is over the limit of {}",
                        meta.len(),
                        settings.max_bytes
                    ),
                ));
            }
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| err(url, format!("{}: {e}", path.display())))?;
            Ok(Bytes::from(bytes))
        }
    }
}

/// The format of a customer's photo from its signature: JPEG, PNG, WebP or GIF, else an error
/// naming what it is (HEIC, PDF, SVG...) that tells the merchant what to ask the customer for.
/// The renderer's own check, so what is stored is what will render.
pub fn sniff_image(bytes: &[u8]) -> Result<ImageKind, UnsupportedImage> {
    renderer::sniff_image(bytes)
}
