//! A session's browser and system, named from its User-Agent as a person would say them
//! ("Chrome 156 trên Linux"), with `woothee`'s maintained table of agents.

use super::Lang;

/// "Chrome 156 trên Linux" / "Chrome 156 on Linux"; the raw string stays for the tooltip.
pub fn describe(user_agent: Option<&str>, lang: Lang) -> String {
    let unknown = match lang {
        Lang::Vi => "Trình duyệt không xác định",
        Lang::En => "Unknown browser",
    };
    let Some(r) = user_agent
        .filter(|ua| !ua.trim().is_empty())
        .and_then(|ua| woothee::parser::Parser::new().parse(ua))
    else {
        return unknown.to_owned();
    };
    let known = |v: &str| !v.is_empty() && v != woothee::woothee::VALUE_UNKNOWN;
    let browser = if known(r.name) {
        let major = r.version.split('.').next().filter(|m| known(m));
        match major {
            Some(m) => format!("{} {m}", r.name),
            None => r.name.to_owned(),
        }
    } else {
        unknown.to_owned()
    };
    if !known(r.os) {
        return browser;
    }
    let os = match r.os {
        "Mac OSX" => "macOS",
        other => other,
    };
    match lang {
        Lang::Vi => format!("{browser} trên {os}"),
        Lang::En => format!("{browser} on {os}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    const FIREFOX_WINDOWS: &str =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const EDGE_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.2849.68";

    #[test]
    fn names_browser_and_system() {
        assert_eq!(
            describe(Some(CHROME_LINUX), Lang::Vi),
            "Chrome 156 trên Linux"
        );
        assert_eq!(
            describe(Some(CHROME_LINUX), Lang::En),
            "Chrome 156 on Linux"
        );
        assert_eq!(
            describe(Some(SAFARI_IPHONE), Lang::Vi),
            "Safari 17 trên iPhone"
        );
        assert_eq!(
            describe(Some(FIREFOX_WINDOWS), Lang::En),
            "Firefox 128 on Windows 10"
        );
        assert_eq!(describe(Some(EDGE_MAC), Lang::En), "Edge 130 on macOS");
    }

    #[test]
    fn unknown_agents_say_so() {
        assert_eq!(describe(None, Lang::Vi), "Trình duyệt không xác định");
        assert_eq!(describe(Some("  "), Lang::En), "Unknown browser");
        assert_eq!(describe(Some("xyz"), Lang::En), "Unknown browser");
        // Not a browser, but named: woothee knows the common HTTP libraries.
        assert_eq!(describe(Some("curl/8.5.0"), Lang::En), "HTTP Library curl");
    }
}
