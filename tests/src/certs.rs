//! Test certificates made by the test that uses them (rcgen): a CA, and
//! leaf certificates it signs, written as PEM files into a temporary
//! directory, with the IceSSL properties that name them. Nothing here is
//! committed: every run makes fresh keys.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// An error making or writing certificates.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A directory of certificates: `ca.pem`, and `<name>.pem` with
/// `<name>_key.pem` for each leaf.
pub struct TestPki {
    dir: PathBuf,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl TestPki {
    /// A fresh CA (`CN=Ice Test CA`) written into `dir` as `ca.pem`.
    ///
    /// # Errors
    /// When rcgen fails or the file cannot be written.
    pub fn new(dir: &Path) -> Result<Self, Error> {
        Self::new_named(dir, "ca", "Ice Test CA")
    }

    /// A fresh CA named `common_name`, written as `<file>.pem`.
    ///
    /// # Errors
    /// When rcgen fails or the file cannot be written.
    pub fn new_named(dir: &Path, file: &str, common_name: &str) -> Result<Self, Error> {
        let ca_key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "Ice Tests");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = params.self_signed(&ca_key)?;
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(format!("{file}.pem")), ca.pem())?;
        Ok(Self {
            dir: dir.to_owned(),
            ca,
            ca_key,
        })
    }

    /// The directory the files are in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate's file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Issues a leaf certificate with subject `CN=<common_name>,
    /// O=Ice Tests` for `127.0.0.1` and `localhost`, written as
    /// `<name>.pem` and `<name>_key.pem`.
    ///
    /// # Errors
    /// When rcgen fails or a file cannot be written.
    pub fn issue(&self, name: &str, common_name: &str) -> Result<(), Error> {
        let key = KeyPair::generate()?;
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "Ice Tests");
        params.distinguished_name = dn;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        let cert = params.signed_by(&key, &self.ca, &self.ca_key)?;
        std::fs::write(self.dir.join(format!("{name}.pem")), cert.pem())?;
        std::fs::write(
            self.dir.join(format!("{name}_key.pem")),
            key.serialize_pem(),
        )?;
        Ok(())
    }

    /// The IceSSL properties of a side using leaf `name` (`None`: no
    /// certificate) and trusting this CA, as `(key, value)` pairs.
    pub fn properties(&self, name: Option<&str>) -> Vec<(String, String)> {
        let mut props = vec![
            (
                "IceSSL.DefaultDir".to_owned(),
                self.dir.display().to_string(),
            ),
            ("IceSSL.CAs".to_owned(), "ca.pem".to_owned()),
        ];
        if let Some(name) = name {
            props.push(("IceSSL.CertFile".to_owned(), format!("{name}.pem")));
            props.push(("IceSSL.KeyFile".to_owned(), format!("{name}_key.pem")));
        }
        props
    }

    /// [`TestPki::properties`] as `--Key=Value` command-line arguments
    /// for a ZeroC program, with the IceSSL plugin loaded.
    pub fn args(&self, name: Option<&str>) -> Vec<String> {
        let mut args = vec!["--Ice.Plugin.IceSSL=IceSSL:createIceSSL".to_owned()];
        args.extend(
            self.properties(name)
                .into_iter()
                .map(|(k, v)| format!("--{k}={v}")),
        );
        args
    }
}
