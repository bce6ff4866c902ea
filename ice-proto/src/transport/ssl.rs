//! The `ssl` transport: TLS over TCP through rustls (tokio-rustls, the
//! `ring` provider), configured by ZeroC's IceSSL properties with their
//! meaning and defaults:
//!
//! | property | meaning here |
//! | --- | --- |
//! | `IceSSL.DefaultDir` | where relative file names are looked up when they do not exist as given |
//! | `IceSSL.CertFile` | this side's certificate chain, PEM (leaf first); may hold the key too |
//! | `IceSSL.KeyFile` | the private key (PEM: PKCS#8, PKCS#1 or SEC1); defaults to the one in `CertFile` |
//! | `IceSSL.CAs` | the trusted CAs: a PEM file, or a directory of PEM files |
//! | `IceSSL.VerifyPeer` | default 2. Client: 0 accepts any server certificate, 1 and 2 verify it. Server: 0 asks for no client certificate, 1 asks and verifies one if sent, 2 requires one |
//! | `IceSSL.CheckCertName` | default 0; 1: the server certificate must name the host the proxy names |
//! | `IceSSL.VerifyDepthMax` | default 3: the longest chain (peer to trusted root) accepted; 0 for no limit |
//! | `IceSSL.Protocols` | the TLS versions allowed (`tls1_2`, `tls1_3`; rustls has no older ones), default both |
//! | `IceSSL.TrustOnly`, `.Client`, `.Server`, `.Server.<Adapter>` | distinguished-name rules a peer's certificate must pass ([`TrustRules`]) |
//!
//! PKCS#12 certificate files (`IceSSL.Password`) are not read: convert
//! them to PEM (`openssl pkcs12 -nodes`); a configuration naming one fails
//! with a clear error. What a handshake established is kept in an
//! [`SslInfo`] the connection exposes, so that a servant can authorise by
//! certificate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, RootCertStore,
    ServerConfig, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio::net::TcpStream;

use crate::properties::Properties;
use crate::runtime_error::{Result, RuntimeError};

/// What a TLS handshake established, as Ice's `IceSSL::ConnectionInfo`.
#[derive(Debug, Clone, Default)]
pub struct SslInfo {
    /// The negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The negotiated protocol version, e.g. `TLSv1_3`.
    pub protocol: String,
    /// The peer's certificate chain as it sent it, leaf first, DER; empty
    /// when the peer sent none.
    pub certs: Vec<CertificateDer<'static>>,
    /// Whether the chain was verified against the trusted CAs.
    pub verified: bool,
    /// The subject distinguished name of the peer's certificate, e.g.
    /// `CN=manager, O=Example`; `None` without a certificate.
    pub subject: Option<String>,
}

impl SslInfo {
    /// The peer certificate's subject, parsed into its attributes
    /// (`("CN", "manager")`, ...), in the certificate's order.
    #[must_use]
    pub fn subject_attributes(&self) -> Vec<(String, String)> {
        self.certs
            .first()
            .and_then(|c| subject_of(c))
            .unwrap_or_default()
    }
}

/// An `IceSSL` configuration made into rustls configurations, shared by
/// a communicator's outgoing connections and its adapters.
pub struct SslEngine {
    client: Arc<ClientConfig>,
    /// `None` when no certificate is configured: such a side can connect
    /// but not accept.
    server: Option<Arc<ServerConfig>>,
    verify_peer: i32,
    verify_depth_max: usize,
    trust: Trust,
}

impl std::fmt::Debug for SslEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SslEngine")
            .field("verify_peer", &self.verify_peer)
            .field("verify_depth_max", &self.verify_depth_max)
            .field("can_accept", &self.server.is_some())
            .finish_non_exhaustive()
    }
}

fn config_error(reason: impl Into<String>) -> RuntimeError {
    RuntimeError::Security {
        reason: reason.into(),
    }
}

/// `name` as given when it exists or is absolute, else under `default_dir`.
fn locate(name: &str, default_dir: Option<&str>) -> PathBuf {
    let given = PathBuf::from(name);
    if given.is_absolute() || given.exists() {
        return given;
    }
    match default_dir {
        Some(dir) => Path::new(dir).join(name),
        None => given,
    }
}

fn read_file(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| config_error(format!("{what}: cannot read `{}`: {e}", path.display())))
}

/// The PEM certificates in `bytes`; fails when there are none (a DER or
/// PKCS#12 file).
fn pem_certs(bytes: &[u8], path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(bytes)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| config_error(format!("{what}: `{}`: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(config_error(format!(
            "{what}: `{}` holds no PEM certificate (PKCS#12 and DER files are not supported: \
             convert them to PEM)",
            path.display()
        )));
    }
    Ok(certs)
}

/// The TLS versions `IceSSL.Protocols` allows (both when unset).
fn protocol_versions(text: Option<&str>) -> Result<Vec<&'static rustls::SupportedProtocolVersion>> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    };
    let mut versions = Vec::new();
    let mut older = Vec::new();
    for token in text.split([',', ' ', '\t']).filter(|t| !t.is_empty()) {
        let norm: String = token
            .to_ascii_lowercase()
            .chars()
            .filter(|c| !matches!(c, '_' | '.' | 'v'))
            .collect();
        match norm.as_str() {
            "tls12" => versions.push(&rustls::version::TLS12),
            "tls13" => versions.push(&rustls::version::TLS13),
            "tls1" | "tls10" | "tls11" | "ssl3" | "sslv3" => older.push(token.to_owned()),
            _ => {
                return Err(config_error(format!(
                    "IceSSL.Protocols: unknown protocol `{token}`"
                )))
            }
        }
    }
    if !older.is_empty() {
        tracing::warn!(
            protocols = ?older,
            "IceSSL.Protocols: TLS versions before 1.2 are not available and are ignored"
        );
    }
    if versions.is_empty() {
        return Err(config_error(
            "IceSSL.Protocols allows no TLS version this runtime has (tls1_2, tls1_3)",
        ));
    }
    Ok(versions)
}

impl SslEngine {
    /// Reads the `IceSSL.*` properties (see the module doc).
    ///
    /// # Errors
    /// [`RuntimeError::Security`] when a file cannot be read or holds no
    /// usable certificate or key, or a property value is invalid.
    pub fn from_properties(properties: &Properties) -> Result<Self> {
        // rustls 0.23.48 deprecates the ring provider for lacking
        // post-quantum key exchange, which ZeroC's OpenSSL 3.0 peers do not
        // offer either; ring keeps the build free of aws-lc's C toolchain.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let default_dir = properties
            .get_property("IceSSL.DefaultDir")
            .filter(|d| !d.is_empty());
        let verify_peer = properties
            .get_property_as_int_with_default("IceSSL.VerifyPeer", 2)
            .clamp(0, 2);
        let check_cert_name = properties.get_property_as_int("IceSSL.CheckCertName") > 0;
        let verify_depth_max = usize::try_from(
            properties
                .get_property_as_int_with_default("IceSSL.VerifyDepthMax", 3)
                .max(0),
        )
        .unwrap_or(3);
        let versions = protocol_versions(properties.get_property("IceSSL.Protocols"))?;

        let mut roots = RootCertStore::empty();
        if let Some(cas) = properties
            .get_property("IceSSL.CAs")
            .filter(|c| !c.is_empty())
        {
            let path = locate(cas, default_dir);
            let files: Vec<PathBuf> = if path.is_dir() {
                let entries = std::fs::read_dir(&path).map_err(|e| {
                    config_error(format!("IceSSL.CAs: cannot list `{}`: {e}", path.display()))
                })?;
                let mut files: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file())
                    .collect();
                files.sort();
                files
            } else {
                vec![path]
            };
            for file in files {
                let bytes = read_file(&file, "IceSSL.CAs")?;
                for cert in pem_certs(&bytes, &file, "IceSSL.CAs")? {
                    roots.add(cert).map_err(|e| {
                        config_error(format!("IceSSL.CAs: `{}`: {e}", file.display()))
                    })?;
                }
            }
        }
        let roots = Arc::new(roots);

        let identity = match properties
            .get_property("IceSSL.CertFile")
            .filter(|c| !c.is_empty())
        {
            None => None,
            Some(cert_file) => {
                let cert_path = locate(cert_file, default_dir);
                let bytes = read_file(&cert_path, "IceSSL.CertFile")?;
                let chain = pem_certs(&bytes, &cert_path, "IceSSL.CertFile")?;
                let key = match properties
                    .get_property("IceSSL.KeyFile")
                    .filter(|k| !k.is_empty())
                {
                    Some(key_file) => {
                        let key_path = locate(key_file, default_dir);
                        let bytes = read_file(&key_path, "IceSSL.KeyFile")?;
                        PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
                            config_error(format!("IceSSL.KeyFile: `{}`: {e}", key_path.display()))
                        })?
                    }
                    None => PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
                        config_error(format!(
                            "IceSSL.CertFile: `{}` holds no private key and IceSSL.KeyFile is not set",
                            cert_path.display()
                        ))
                    })?,
                };
                Some((chain, key))
            }
        };

        let web_pki_server = (!roots.is_empty())
            .then(|| {
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    roots.clone(),
                    provider.clone(),
                )
                .build()
            })
            .transpose()
            .map_err(|e| config_error(format!("IceSSL.CAs: {e}")))?;
        let server_verifier = Arc::new(ServerVerifier {
            inner: web_pki_server,
            verify: verify_peer > 0,
            check_name: check_cert_name,
            provider: provider.clone(),
        });
        let client = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| config_error(format!("IceSSL.Protocols: {e}")))?
            .dangerous()
            .with_custom_certificate_verifier(server_verifier);
        let client = match &identity {
            Some((chain, key)) => client
                .with_client_auth_cert(chain.clone(), key.clone_key())
                .map_err(|e| config_error(format!("IceSSL.CertFile/KeyFile: {e}")))?,
            None => client.with_no_client_auth(),
        };

        let server = match identity {
            None => None,
            Some((chain, key)) => {
                let client_verifier: Arc<dyn ClientCertVerifier> = match verify_peer {
                    0 => rustls::server::WebPkiClientVerifier::no_client_auth(),
                    level if roots.is_empty() => Arc::new(NoTrustedClients {
                        mandatory: level >= 2,
                        provider: provider.clone(),
                    }),
                    level => {
                        let builder = rustls::server::WebPkiClientVerifier::builder_with_provider(
                            roots.clone(),
                            provider.clone(),
                        );
                        let builder = if level >= 2 {
                            builder
                        } else {
                            builder.allow_unauthenticated()
                        };
                        builder
                            .build()
                            .map_err(|e| config_error(format!("IceSSL.CAs: {e}")))?
                    }
                };
                let server = ServerConfig::builder_with_provider(provider.clone())
                    .with_protocol_versions(&versions)
                    .map_err(|e| config_error(format!("IceSSL.Protocols: {e}")))?
                    .with_client_cert_verifier(client_verifier)
                    .with_single_cert(chain, key)
                    .map_err(|e| config_error(format!("IceSSL.CertFile/KeyFile: {e}")))?;
                Some(Arc::new(server))
            }
        };

        Ok(Self {
            client: Arc::new(client),
            server,
            verify_peer,
            verify_depth_max,
            trust: Trust::from_properties(properties)?,
        })
    }

    /// Whether this configuration can accept connections (it has a
    /// certificate).
    #[must_use]
    pub fn can_accept(&self) -> bool {
        self.server.is_some()
    }

    /// The TLS client handshake over `tcp` to `host`, then the checks
    /// rustls leaves to Ice (chain depth, `IceSSL.TrustOnly.Client`).
    ///
    /// # Errors
    /// [`RuntimeError::Security`] when the handshake fails or the server's
    /// certificate is refused.
    pub async fn connect(
        &self,
        tcp: TcpStream,
        host: &str,
    ) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, SslInfo)> {
        let name = ServerName::try_from(host.to_owned())
            .or_else(|_| ServerName::try_from("localhost".to_owned()))
            .map_err(|e| config_error(format!("server name `{host}`: {e}")))?;
        let connector = tokio_rustls::TlsConnector::from(self.client.clone());
        let tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| config_error(format!("TLS handshake with {host} failed: {e}")))?;
        let (_, session) = tls.get_ref();
        let info = session_info(session, self.verify_peer > 0);
        self.check_peer(&info, Side::Client)?;
        Ok((tls, info))
    }

    /// The TLS server handshake over an accepted `tcp`, then the checks
    /// rustls leaves to Ice (chain depth, `IceSSL.TrustOnly.Server` and
    /// `IceSSL.TrustOnly.Server.<adapter>`).
    ///
    /// # Errors
    /// [`RuntimeError::Security`] when there is no certificate to serve
    /// with, the handshake fails (a peer that does not speak TLS, a
    /// certificate it does not trust or we do not), or the trust rules
    /// refuse the client's certificate.
    pub async fn accept(
        &self,
        tcp: TcpStream,
        adapter: &str,
    ) -> Result<(tokio_rustls::server::TlsStream<TcpStream>, SslInfo)> {
        let server = self
            .server
            .as_ref()
            .ok_or_else(|| config_error("IceSSL.CertFile is not set: cannot accept"))?;
        let acceptor = tokio_rustls::TlsAcceptor::from(server.clone());
        let tls = acceptor
            .accept(tcp)
            .await
            .map_err(|e| config_error(format!("TLS handshake failed: {e}")))?;
        let (_, session) = tls.get_ref();
        let info = session_info(session, self.verify_peer > 0);
        self.check_peer(&info, Side::Server(adapter))?;
        Ok((tls, info))
    }

    fn check_peer(&self, info: &SslInfo, side: Side<'_>) -> Result<()> {
        if self.verify_depth_max > 0 && !info.certs.is_empty() {
            let depth = chain_depth(&info.certs);
            if depth > self.verify_depth_max {
                return Err(config_error(format!(
                    "the peer's certificate chain is {depth} long, IceSSL.VerifyDepthMax is {}",
                    self.verify_depth_max
                )));
            }
        }
        let subject = info.certs.first().and_then(|c| subject_of(c));
        if !self.trust.accepts(side, subject.as_deref()) {
            return Err(config_error(format!(
                "IceSSL.TrustOnly rules refused the peer's certificate `{}`",
                info.subject.as_deref().unwrap_or("(none)")
            )));
        }
        Ok(())
    }
}

/// `error` as a [`RuntimeError::Security`] when it is a TLS failure that
/// surfaced after the handshake (with TLS 1.3, a server refusing the
/// client's certificate says so on the first read); other errors as they
/// are.
#[must_use]
pub fn classify(error: RuntimeError) -> RuntimeError {
    if let RuntimeError::Io { source, .. } = &error {
        if let Some(tls) = source
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return config_error(format!("the peer refused the TLS session: {tls}"));
        }
    }
    error
}

fn session_info<D>(session: &rustls::ConnectionCommon<D>, verify: bool) -> SslInfo {
    let certs: Vec<CertificateDer<'static>> = session
        .peer_certificates()
        .map(<[CertificateDer<'static>]>::to_vec)
        .unwrap_or_default();
    let subject = certs.first().and_then(|c| subject_of(c)).map(|attrs| {
        attrs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    });
    SslInfo {
        cipher: session
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        protocol: session
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_default(),
        verified: verify && !certs.is_empty(),
        certs,
        subject,
    }
}

/// The length of the path from `certs`' leaf to its root: the certificates
/// sent, plus the trusted root when the last one sent is not self-issued.
fn chain_depth(certs: &[CertificateDer<'_>]) -> usize {
    use x509_parser::prelude::FromDer;
    let self_issued = certs.last().is_some_and(|c| {
        x509_parser::certificate::X509Certificate::from_der(c)
            .map(|(_, c)| c.subject().as_raw() == c.issuer().as_raw())
            .unwrap_or(false)
    });
    certs.len() + usize::from(!self_issued)
}

/// Short names of the attribute types distinguished names use.
fn attribute_name(oid: &str) -> String {
    match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "T",
        "2.5.4.42" => "G",
        "2.5.4.43" => "I",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// The subject attributes of a DER certificate, in its order.
fn subject_of(cert: &CertificateDer<'_>) -> Option<Vec<(String, String)>> {
    use x509_parser::prelude::FromDer;
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(cert).ok()?;
    let mut out = Vec::new();
    for rdn in cert.subject().iter() {
        for attr in rdn.iter() {
            let value = attr
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|_| String::from_utf8_lossy(attr.attr_value().data).into_owned());
            out.push((attribute_name(&attr.attr_type().to_id_string()), value));
        }
    }
    Some(out)
}

/// Which side a trust check is for.
#[derive(Debug, Clone, Copy)]
enum Side<'a> {
    /// An outgoing connection checks the server.
    Client,
    /// An adapter checks a client.
    Server(&'a str),
}

/// One `IceSSL.TrustOnly*` property: distinguished names to accept and to
/// reject.
///
/// The value is a `;`-separated list of entries; an entry is a
/// distinguished name (`CN=manager, O=Example`, values may be in double
/// quotes) and matches a certificate whose subject holds every one of its
/// attributes; an entry starting with `!` rejects instead of accepting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustRules {
    /// Entries that accept.
    pub accept: Vec<Vec<(String, String)>>,
    /// Entries that reject.
    pub reject: Vec<Vec<(String, String)>>,
}

impl TrustRules {
    /// Parses a property value.
    ///
    /// # Errors
    /// [`RuntimeError::Security`] for an attribute without `=` or an
    /// unterminated quote.
    pub fn parse(text: &str) -> Result<Self> {
        let mut rules = Self::default();
        for entry in split_unquoted(text, ';')? {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (reject, dn) = match entry.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, entry),
            };
            let mut attrs = Vec::new();
            for part in split_unquoted(dn, ',')? {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                let (key, value) = part.split_once('=').ok_or_else(|| {
                    config_error(format!("IceSSL.TrustOnly: `{part}` is not TYPE=value"))
                })?;
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                attrs.push((key.trim().to_owned(), value.to_owned()));
            }
            if reject {
                rules.reject.push(attrs);
            } else {
                rules.accept.push(attrs);
            }
        }
        Ok(rules)
    }

    fn is_empty(&self) -> bool {
        self.accept.is_empty() && self.reject.is_empty()
    }
}

/// `text` split at `sep` outside double quotes.
fn split_unquoted(text: &str, sep: char) -> Result<Vec<&str>> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(text.get(start..i).unwrap_or_default());
            start = i + c.len_utf8();
        }
    }
    if quoted {
        return Err(config_error(format!(
            "IceSSL.TrustOnly: unterminated quote in `{text}`"
        )));
    }
    parts.push(text.get(start..).unwrap_or_default());
    Ok(parts)
}

/// Whether `subject` holds every attribute of `entry` (attribute types
/// compared without case).
fn entry_matches(entry: &[(String, String)], subject: &[(String, String)]) -> bool {
    entry.iter().all(|(k, v)| {
        subject
            .iter()
            .any(|(sk, sv)| sk.eq_ignore_ascii_case(k) && sv == v)
    })
}

/// The `IceSSL.TrustOnly*` properties.
#[derive(Debug, Clone, Default)]
struct Trust {
    all: TrustRules,
    client: TrustRules,
    server: TrustRules,
    adapters: HashMap<String, TrustRules>,
}

impl Trust {
    fn from_properties(properties: &Properties) -> Result<Self> {
        let rules = |key: &str| TrustRules::parse(properties.get_property(key).unwrap_or(""));
        let mut adapters = HashMap::new();
        for (key, value) in properties.get_properties_for_prefix("IceSSL.TrustOnly.Server.") {
            if let Some(adapter) = key.strip_prefix("IceSSL.TrustOnly.Server.") {
                adapters.insert(adapter.to_owned(), TrustRules::parse(&value)?);
            }
        }
        Ok(Self {
            all: rules("IceSSL.TrustOnly")?,
            client: rules("IceSSL.TrustOnly.Client")?,
            server: rules("IceSSL.TrustOnly.Server")?,
            adapters,
        })
    }

    /// Whether a peer whose certificate has `subject` (`None`: no
    /// certificate) passes the rules of `side`: none of the reject entries
    /// matches, and when there are accept entries, one of them does. With
    /// rules but no certificate, the peer is refused.
    fn accepts(&self, side: Side<'_>, subject: Option<&[(String, String)]>) -> bool {
        let mut sets = vec![&self.all];
        match side {
            Side::Client => sets.push(&self.client),
            Side::Server(adapter) => {
                sets.push(&self.server);
                if let Some(rules) = self.adapters.get(adapter) {
                    sets.push(rules);
                }
            }
        }
        if sets.iter().all(|s| s.is_empty()) {
            return true;
        }
        let Some(subject) = subject else {
            return false;
        };
        if sets
            .iter()
            .flat_map(|s| &s.reject)
            .any(|e| entry_matches(e, subject))
        {
            return false;
        }
        let mut accepts = sets.iter().flat_map(|s| &s.accept).peekable();
        accepts.peek().is_none() || accepts.any(|e| entry_matches(e, subject))
    }
}

/// Checks a server's certificate as `IceSSL.VerifyPeer` and
/// `IceSSL.CheckCertName` say, through rustls's WebPKI verifier.
#[derive(Debug)]
struct ServerVerifier {
    /// `None` without trusted CAs: every certificate is unverifiable.
    inner: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    verify: bool,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if !self.verify {
            return Ok(ServerCertVerified::assertion());
        }
        let Some(inner) = &self.inner else {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ));
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The client verifier of a server that asks for certificates
/// (`IceSSL.VerifyPeer` 1 or 2) but trusts no CA: any certificate sent
/// is refused, and with level 2 so is a client without one.
#[derive(Debug)]
struct NoTrustedClients {
    mandatory: bool,
    provider: Arc<CryptoProvider>,
}

impl ClientCertVerifier for NoTrustedClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        Err(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn trust_rules_parse_accept_reject_and_quotes() -> Result<()> {
        let rules = TrustRules::parse(r#"CN=manager, O="Example, Inc."; !CN=intruder;"#)?;
        assert_eq!(
            rules.accept,
            vec![attrs(&[("CN", "manager"), ("O", "Example, Inc.")])]
        );
        assert_eq!(rules.reject, vec![attrs(&[("CN", "intruder")])]);
        assert!(TrustRules::parse("CN").is_err());
        assert!(TrustRules::parse("CN=\"open").is_err());
        Ok(())
    }

    #[test]
    fn trust_decisions_follow_the_side_and_adapter() -> Result<()> {
        let properties = Properties::new()
            .with("IceSSL.TrustOnly", "!CN=intruder")
            .with("IceSSL.TrustOnly.Client", "CN=server")
            .with("IceSSL.TrustOnly.Server.Management", "CN=manager");
        let trust = Trust::from_properties(&properties)?;
        let manager = attrs(&[("CN", "manager"), ("O", "Example")]);
        let server = attrs(&[("CN", "server")]);
        let intruder = attrs(&[("CN", "intruder")]);
        // Client side: only the server's name.
        assert!(trust.accepts(Side::Client, Some(&server)));
        assert!(!trust.accepts(Side::Client, Some(&manager)));
        // The management adapter: only the manager; others: all but the
        // rejected one.
        assert!(trust.accepts(Side::Server("Management"), Some(&manager)));
        assert!(!trust.accepts(Side::Server("Management"), Some(&server)));
        assert!(trust.accepts(Side::Server("Other"), Some(&server)));
        assert!(!trust.accepts(Side::Server("Other"), Some(&intruder)));
        // With rules, no certificate is no trust; without rules, anything goes.
        assert!(!trust.accepts(Side::Server("Other"), None));
        assert!(Trust::default().accepts(Side::Server("Other"), None));
        Ok(())
    }

    #[test]
    fn protocols_map_to_rustls_versions() -> Result<()> {
        assert_eq!(protocol_versions(None)?.len(), 2);
        assert_eq!(protocol_versions(Some("tls1_2"))?.len(), 1);
        assert_eq!(protocol_versions(Some("TLSv1_3, tls1_2"))?.len(), 2);
        assert_eq!(protocol_versions(Some("tls1_0, tls1_2"))?.len(), 1);
        assert!(protocol_versions(Some("tls1_1")).is_err());
        assert!(protocol_versions(Some("quic")).is_err());
        Ok(())
    }

    #[test]
    fn missing_files_are_configuration_errors() {
        let properties = Properties::new().with("IceSSL.CertFile", "/nonexistent/cert.pem");
        assert!(matches!(
            SslEngine::from_properties(&properties),
            Err(RuntimeError::Security { .. })
        ));
        let properties = Properties::new().with("IceSSL.CAs", "/nonexistent/ca.pem");
        assert!(SslEngine::from_properties(&properties).is_err());
        // No files at all: a client that cannot accept.
        let engine = SslEngine::from_properties(&Properties::new());
        assert!(engine.is_ok_and(|e| !e.can_accept()));
    }
}
