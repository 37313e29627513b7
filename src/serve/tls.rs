//! TLS for a node: the rustls server configuration from the PEM files named
//! by `[server] tls_cert` and `tls_key`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why the TLS configuration could not be built; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file could not be opened or read.
    #[error("cannot read the TLS certificate {}", path.display())]
    ReadCertificate {
        /// `[server] tls_cert`.
        path: PathBuf,
        /// The reading or decoding error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate file holds something that is not a PEM certificate.
    #[error("{} is not a PEM certificate chain", path.display())]
    NotACertificate {
        /// `[server] tls_cert`.
        path: PathBuf,
        /// The decoding error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The certificate file holds no certificate at all.
    #[error("{} contains no certificate", path.display())]
    NoCertificate {
        /// `[server] tls_cert`.
        path: PathBuf,
    },
    /// No private key could be read from the key file.
    #[error("cannot read a PEM private key from {}", path.display())]
    ReadKey {
        /// `[server] tls_key`.
        path: PathBuf,
        /// The reading or decoding error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The crypto provider supports none of the safe protocol versions.
    #[error("TLS protocol versions")]
    Versions(#[source] rustls::Error),
    /// The key is not the certificate's (or rustls refuses either).
    #[error("the TLS certificate and key do not match")]
    Mismatch(#[source] rustls::Error),
}

/// The rustls server configuration from a PEM certificate chain (`cert`,
/// leaf first) and a PEM private key (`key`): aws-lc-rs provider, TLS 1.2
/// and 1.3, no client certificates.
///
/// Errors: a [`TlsError`] naming the file that could not be used.
pub fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|source| TlsError::ReadCertificate {
            path: cert.to_owned(),
            source,
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::NotACertificate {
            path: cert.to_owned(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::ReadKey {
        path: key.to_owned(),
        source,
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Versions)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Mismatch)
}
