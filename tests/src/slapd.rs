//! Debian's OpenLDAP `slapd` as the province's directory: its own configuration (`slapd -f`)
//! and `mdb` database in a temporary directory, loaded with `slapadd`, listening on free
//! loopback ports for `ldap://` (StartTLS) and `ldaps://` with a certificate from a test CA.
//! Anonymous reads are refused (only bound accounts read). Changes while it runs go through
//! `ldapmodify` as the directory's manager.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use base64::Engine;

use crate::tempdir::TempDir;

pub const BASE_DN: &str = "dc=haiphong,dc=gov,dc=vn";
pub const MANAGER_DN: &str = "cn=admin,dc=haiphong,dc=gov,dc=vn";
const MANAGER_PASSWORD: &str = "quan-tri-thu-muc";
/// The account Tessera reads the directory with (not a person: no `inetOrgPerson`).
pub const SERVICE_DN: &str = "cn=tessera,ou=services,dc=haiphong,dc=gov,dc=vn";
pub const SERVICE_PASSWORD: &str = "tai-khoan-dich-vu-2024";

/// `slapd` and `ldapmodify`, where Debian puts them.
fn slapd_bin() -> PathBuf {
    ["/usr/sbin/slapd", "/usr/local/sbin/slapd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("slapd"))
}

fn slapadd_bin() -> PathBuf {
    ["/usr/sbin/slapadd", "/usr/local/sbin/slapadd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from("slapadd"))
}

/// Whether slapd (with the mdb backend and the inetOrgPerson schema) and ldap-utils are here.
pub fn available() -> bool {
    let tool = |name: &str| {
        Command::new(name)
            .arg("-VV")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    slapd_bin().is_file()
        && Path::new("/etc/ldap/schema/inetorgperson.schema").is_file()
        && tool("ldapmodify")
}

/// A running slapd of a test; killed on drop.
#[derive(Debug)]
pub struct Slapd {
    child: Child,
    ldap_port: u16,
    ldaps_port: u16,
    dir: TempDir,
}

/// One person of the directory.
#[derive(Clone, Debug)]
pub struct Person {
    pub uid: String,
    pub cn: String,
    pub mail: Option<String>,
    pub phone: Option<String>,
    pub title: Option<String>,
    /// OU names from the top down, below the base DN.
    pub ous: Vec<String>,
    pub password: Option<String>,
}

impl Person {
    pub fn dn(&self) -> String {
        let mut dn = format!("uid={}", escape_dn_value(&self.uid));
        for ou in self.ous.iter().rev() {
            dn.push_str(&format!(",ou={}", escape_dn_value(ou)));
        }
        format!("{dn},{BASE_DN}")
    }

    fn ldif(&self) -> String {
        let mut out = attr("dn", &self.dn());
        out.push_str("objectClass: inetOrgPerson\n");
        out.push_str(&attr("uid", &self.uid));
        out.push_str(&attr("cn", &self.cn));
        let surname = self.cn.split(' ').next().unwrap_or("x");
        out.push_str(&attr("sn", surname));
        for (name, v) in [
            ("mail", &self.mail),
            ("telephoneNumber", &self.phone),
            ("title", &self.title),
            ("userPassword", &self.password),
        ] {
            if let Some(v) = v {
                out.push_str(&attr(name, v));
            }
        }
        out.push('\n');
        out
    }
}

/// An `ou=` DN below the base for the path `ous` (top down).
pub fn ou_dn(ous: &[String]) -> String {
    let mut dn = String::new();
    for ou in ous.iter().rev() {
        dn.push_str(&format!("ou={},", escape_dn_value(ou)));
    }
    format!("{dn}{BASE_DN}")
}

/// RFC 4514 §2.4 escaping of an attribute value in a DN.
fn escape_dn_value(v: &str) -> String {
    let mut out = String::new();
    for (i, c) in v.chars().enumerate() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && matches!(c, ' ' | '#'))
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// An LDIF line; values that are not plain ASCII are base64 (RFC 2849).
fn attr(name: &str, value: &str) -> String {
    let safe =
        value.bytes().all(|b| (0x20..0x7f).contains(&b)) && !value.starts_with([' ', ':', '<']);
    if safe {
        format!("{name}: {value}\n")
    } else {
        format!(
            "{name}:: {}\n",
            base64::engine::general_purpose::STANDARD.encode(value)
        )
    }
}

impl Slapd {
    /// Starts a directory holding the OUs of `people` and `people` themselves.
    #[allow(clippy::disallowed_methods)] // a short wait in the test harness, not library code
    pub fn start(people: &[Person]) -> anyhow::Result<Slapd> {
        let dir = TempDir::new("tessera-e2e-slapd")?;
        let d = dir.path();
        std::fs::create_dir_all(d.join("db"))?;
        crate::tls::localhost_certificates(d, "Directory test CA")?;
        let free = || -> anyhow::Result<u16> {
            Ok(std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port())
        };
        let (ldap_port, ldaps_port) = (free()?, free()?);
        let conf = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             pidfile {d}/slapd.pid\n\
             argsfile {d}/slapd.args\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             TLSCACertificateFile {d}/ca.pem\n\
             TLSCertificateFile {d}/server.pem\n\
             TLSCertificateKeyFile {d}/server.key\n\
             # Like Active Directory: at most 500 entries per search, more only page by page.\n\
             sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited\n\
             access to attrs=userPassword by anonymous auth by * none\n\
             access to * by users read by * none\n\
             database mdb\n\
             maxsize 268435456\n\
             suffix \"{BASE_DN}\"\n\
             rootdn \"{MANAGER_DN}\"\n\
             rootpw {MANAGER_PASSWORD}\n\
             directory {d}/db\n\
             index uid eq\n",
            d = d.display()
        );
        std::fs::write(d.join("slapd.conf"), conf)?;
        let mut ldif = format!(
            "dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\ndc: haiphong\n\
             o: Thanh pho Hai Phong\n\n\
             dn: ou=services,{BASE_DN}\nobjectClass: organizationalUnit\nou: services\n\n\
             dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n\
             cn: tessera\nuserPassword: {SERVICE_PASSWORD}\n\n"
        );
        let mut ous: Vec<Vec<String>> = Vec::new();
        for p in people {
            for depth in 1..=p.ous.len() {
                let path = p.ous[..depth].to_vec();
                if !ous.contains(&path) {
                    ous.push(path);
                }
            }
        }
        for path in &ous {
            ldif.push_str(&ou_entry(path));
        }
        for p in people {
            ldif.push_str(&p.ldif());
        }
        std::fs::write(d.join("data.ldif"), ldif)?;
        let added = Command::new(slapadd_bin())
            .arg("-q")
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-l")
            .arg(d.join("data.ldif"))
            .output()
            .context("running slapadd")?;
        ensure!(
            added.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&added.stderr)
        );
        let child = Command::new(slapd_bin())
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/"
            ))
            // Any debug level keeps slapd in the foreground, as the test's child.
            .arg("-d")
            .arg("0")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(d.join("slapd.out"))?)
            .stderr(std::fs::File::create(d.join("slapd.err"))?)
            .spawn()
            .context("starting slapd")?;
        let mut s = Slapd {
            child,
            ldap_port,
            ldaps_port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", s.ldaps_port)).is_err() {
            if let Some(status) = s.child.try_wait()? {
                bail!("slapd exited ({status}):\n{}", s.output());
            }
            ensure!(
                Instant::now() < deadline,
                "slapd does not listen:\n{}",
                s.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(s)
    }

    /// `ldaps://127.0.0.1:PORT`.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://127.0.0.1:{}", self.ldaps_port)
    }

    /// `ldap://127.0.0.1:PORT` (StartTLS).
    pub fn ldap_url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.ldap_port)
    }

    /// The CA that signed the directory's certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The temporary directory (for the test's own files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Applies LDIF change records as the manager, over StartTLS.
    pub fn modify(&self, ldif: &str) -> anyhow::Result<()> {
        let file = self.dir.path().join("change.ldif");
        std::fs::write(&file, ldif)?;
        let out = Command::new("ldapmodify")
            .env("LDAPTLS_CACERT", self.ca())
            .args(["-ZZ", "-x", "-H", &self.ldap_url(), "-D", MANAGER_DN, "-w"])
            .arg(MANAGER_PASSWORD)
            .arg("-f")
            .arg(&file)
            .output()
            .context("running ldapmodify")?;
        ensure!(
            out.status.success(),
            "ldapmodify: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }

    /// Moves `person` to the OU path `to` (which must exist).
    pub fn move_person(&self, person: &Person, to: &[String]) -> anyhow::Result<()> {
        // uids are ASCII here, so the new RDN needs no base64.
        self.modify(&format!(
            "{}changetype: modrdn\nnewrdn: uid={}\ndeleteoldrdn: 1\n{}",
            attr("dn", &person.dn()),
            escape_dn_value(&person.uid),
            attr("newsuperior", &ou_dn(to))
        ))
    }

    /// Adds `person`'s entry (its OUs must exist).
    pub fn add_person(&self, person: &Person) -> anyhow::Result<()> {
        let entry = person.ldif();
        let (dn_line, rest) = entry.split_once('\n').unwrap_or((&entry, ""));
        self.modify(&format!("{dn_line}\nchangetype: add\n{rest}"))
    }

    /// Deletes `person`'s entry.
    pub fn remove_person(&self, person: &Person) -> anyhow::Result<()> {
        self.modify(&format!("{}changetype: delete\n", attr("dn", &person.dn())))
    }

    /// What slapd printed (for failures).
    pub fn output(&self) -> String {
        let read = |n: &str| std::fs::read_to_string(self.dir.path().join(n)).unwrap_or_default();
        format!("{}{}", read("slapd.out"), read("slapd.err"))
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ou_entry(path: &[String]) -> String {
    let name = path.last().map(String::as_str).unwrap_or_default();
    format!(
        "{}objectClass: organizationalUnit\n{}\n",
        attr("dn", &ou_dn(path)),
        attr("ou", name)
    )
}
