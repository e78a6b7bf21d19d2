//! Declarations of configuration variables: name, kind, default and the text users read.

/// The form a variable's value takes; each has one parser in [`super::Env`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text (possibly empty when the variable allows it).
    Text,
    /// A filesystem path.
    Path,
    /// `500ms`, `10s`, `2m`, `1h30m`; a bare number is in the unit the name ends with
    /// (`_MS` or `_SECS`).
    Duration,
    /// `512`, `64KiB`, `10MB`, `1GiB`; a bare number is bytes.
    Size,
    /// An absolute `http` or `https` URL.
    Url,
    /// A TCP port, 0–65535.
    Port,
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`).
    Bool,
    /// Comma-separated, non-empty items.
    List,
    /// Comma-separated `host:port` items.
    HostPorts,
    /// An integer in an inclusive range.
    Integer { min: i64, max: i64 },
    /// An IP address.
    IpAddr,
    /// A log filter: a level (`info`) or `tracing` directives (`info,logpipe_indexer=debug`).
    LogFilter,
    /// A Kafka topic name.
    Topic,
}

impl Kind {
    /// What a valid value looks like, as error messages say it.
    pub fn expected(self) -> String {
        match self {
            Kind::Text => "text".into(),
            Kind::Path => "a filesystem path".into(),
            Kind::Duration => "a duration such as 500ms, 10s, 2m or 1h30m".into(),
            Kind::Size => "a size in bytes such as 65536, 64KiB, 10MB or 1GiB".into(),
            Kind::Url => "an absolute http:// or https:// URL".into(),
            Kind::Port => "a TCP port number from 0 to 65535".into(),
            Kind::Bool => "true or false".into(),
            Kind::List => "a comma-separated list of one or more items".into(),
            Kind::HostPorts => {
                "a comma-separated list of one or more host:port addresses".into()
            }
            Kind::Integer { min, max } => format!("an integer from {min} to {max}"),
            Kind::IpAddr => "an IPv4 or IPv6 address such as 0.0.0.0 or ::1".into(),
            Kind::LogFilter => {
                "a level (trace, debug, info, warn, error) or tracing directives such as info,logpipe_indexer=debug".into()
            }
            Kind::Topic => {
                "a Kafka topic name: 1 to 249 characters from a-z A-Z 0-9 . _ -".into()
            }
        }
    }
}

/// One configuration variable. Field docs here are the user documentation printed by
/// `logpipe config`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarSpec {
    pub name: &'static str,
    pub kind: Kind,
    /// The value used when the variable is unset; `None` means unset is allowed and means
    /// "off" or "derived" as the description says.
    pub default: Option<&'static str>,
    pub description: &'static str,
    /// The value is masked in logs and error messages.
    pub secret: bool,
}

impl VarSpec {
    pub const fn new(
        name: &'static str,
        kind: Kind,
        default: Option<&'static str>,
        description: &'static str,
    ) -> Self {
        VarSpec {
            name,
            kind,
            default,
            description,
            secret: false,
        }
    }

    /// What a valid value looks like, with the unit of a bare number where the name
    /// gives one.
    pub fn expected(&self) -> String {
        let expected = self.kind.expected();
        if self.kind != Kind::Duration {
            expected
        } else if self.name.ends_with("_MS") {
            format!("{expected} (a bare number is milliseconds)")
        } else if self.name.ends_with("_SECS") {
            format!("{expected} (a bare number is seconds)")
        } else {
            expected
        }
    }

    pub const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}
