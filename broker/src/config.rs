//! Where the broker listens and where it keeps its data.

use std::net::SocketAddr;
use std::path::PathBuf;

use url::Url;

use crate::error::{Error, Result};

/// The SQLite database in the data directory; `-wal` and `-shm` files sit beside it.
pub const DB_FILE: &str = "tansu.db";

/// One broker: a listener on `listen`, advertised as itself, and its storage in `dir`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Where clients connect; also the address the broker advertises in metadata, so a
    /// broker on loopback is reachable from this host only.
    pub listen: SocketAddr,
    /// The directory of [`DB_FILE`], created when missing.
    pub dir: PathBuf,
}

impl BrokerConfig {
    /// `host:port`, as `bootstrap.servers` takes it.
    pub fn bootstrap(&self) -> String {
        self.listen.to_string()
    }

    /// The database file.
    pub fn db_path(&self) -> Result<PathBuf> {
        let dir = std::path::absolute(&self.dir).map_err(|error| self.dir_error(error))?;
        Ok(dir.join(DB_FILE))
    }

    pub(crate) fn listener_url(&self) -> Url {
        Url::parse(&format!("tcp://{}", self.listen)).expect("a socket address makes a URL")
    }

    /// tansu's storage URL for the database. tansu joins the URL's host and path to its
    /// working directory, so an absolute path is written with an empty host and a path
    /// that still starts with `/` after tansu strips one: `sqlite:////var/lib/…/tansu.db`.
    pub fn storage_url(&self) -> Result<Url> {
        let db = self.db_path()?;
        let text = db.to_str().ok_or_else(|| Error::DataDir {
            dir: self.dir.clone(),
            reason: "the path is not UTF-8".into(),
        })?;
        let url = Url::parse(&format!("sqlite:///{text}")).map_err(|error| Error::DataDir {
            dir: self.dir.clone(),
            reason: error.to_string(),
        })?;
        // tansu reads the path as written, without decoding it.
        if url.path().strip_prefix('/') != Some(text) {
            return Err(Error::DataDir {
                dir: self.dir.clone(),
                reason: "the path has characters a URL escapes (spaces, %, #, ?)".into(),
            });
        }
        Ok(url)
    }

    fn dir_error(&self, error: std::io::Error) -> Error {
        Error::DataDir {
            dir: self.dir.clone(),
            reason: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &str) -> BrokerConfig {
        BrokerConfig {
            listen: "127.0.0.1:9092".parse().unwrap(),
            dir: dir.into(),
        }
    }

    /// tansu's reading of the URL: the working directory, then the host, then the path
    /// without its first `/`.
    fn as_tansu_reads_it(url: &Url) -> PathBuf {
        let mut path = PathBuf::from("/working/dir");
        if let Some(domain) = url.domain() {
            path.push(domain);
        }
        path.push(url.path().strip_prefix('/').unwrap_or(url.path()));
        path
    }

    #[test]
    fn an_absolute_data_dir_is_not_joined_to_the_working_directory() {
        let url = config("/var/lib/logpipe/broker").storage_url().unwrap();
        assert_eq!(url.as_str(), "sqlite:////var/lib/logpipe/broker/tansu.db");
        assert_eq!(
            as_tansu_reads_it(&url),
            PathBuf::from("/var/lib/logpipe/broker/tansu.db")
        );
    }

    #[test]
    fn a_relative_data_dir_is_made_absolute_first() {
        let url = config("data/broker").storage_url().unwrap();
        let expected = std::env::current_dir()
            .unwrap()
            .join("data/broker/tansu.db");
        assert_eq!(as_tansu_reads_it(&url), expected);
    }

    #[test]
    fn a_path_a_url_would_escape_is_refused() {
        let error = config("/tmp/my data").storage_url().unwrap_err();
        assert!(error.to_string().contains("/tmp/my data"), "{error}");
    }

    #[test]
    fn the_listener_is_advertised_as_given() {
        assert_eq!(config("/d").listener_url().as_str(), "tcp://127.0.0.1:9092");
        assert_eq!(config("/d").bootstrap(), "127.0.0.1:9092");
    }
}
