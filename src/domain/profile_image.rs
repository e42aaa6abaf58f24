//! `ProfileImage`: an absolute `https://` or `http://` URL of at most 2,048 characters, or a
//! `data:image/{png,jpeg,gif,webp};base64,` URL whose decoded bytes are at most 100 KB and
//! really are that image type (checked by magic bytes). SVG (which can carry script),
//! `javascript:` and every other scheme are refused.

use base64::{Engine, engine::general_purpose::STANDARD};
use diesel::{deserialize::FromSqlRow, expression::AsExpression, sql_types::Text};

use super::{Invalid, string_value};
use crate::error::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct ProfileImage(String);
string_value!(ProfileImage);

pub const MAX_URL_LEN: usize = 2048;
pub const MAX_IMAGE_BYTES: usize = 100 * 1024;

impl ProfileImage {
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let input = input.trim();
        match input
            .split_once(':')
            .map(|(scheme, _)| scheme.to_ascii_lowercase())
            .as_deref()
        {
            Some("https" | "http") => parse_web_url(input),
            Some("data") => parse_data_url(input),
            _ => Err(invalid(
                "must be an https:// (or http://) URL or a data:image/…;base64 URL",
            )),
        }
    }
}

fn invalid(why: &str) -> Invalid {
    Invalid::new(ErrorCode::InvalidImage, why)
}

fn parse_web_url(input: &str) -> Result<ProfileImage, Invalid> {
    if input.len() > MAX_URL_LEN {
        return Err(invalid("URL must be at most 2,048 characters"));
    }
    // `Url::parse` tolerates some control characters; stored as given, a NUL would reach
    // PostgreSQL, whose text cannot hold it.
    if input.chars().any(char::is_control) {
        return Err(invalid("URL must not contain control characters"));
    }
    let url = url::Url::parse(input).map_err(|e| invalid(&format!("not a valid URL ({e})")))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("URL must have a host"));
    }
    Ok(ProfileImage(input.to_owned()))
}

fn parse_data_url(input: &str) -> Result<ProfileImage, Invalid> {
    let (header, data) = input
        .split_once(',')
        .ok_or_else(|| invalid("data URL has no ',' before its data"))?;
    let kind = match header.to_ascii_lowercase().as_str() {
        "data:image/png;base64" => ImageKind::Png,
        "data:image/jpeg;base64" => ImageKind::Jpeg,
        "data:image/gif;base64" => ImageKind::Gif,
        "data:image/webp;base64" => ImageKind::Webp,
        _ => {
            return Err(invalid(
                "data URL must be data:image/{png,jpeg,gif,webp};base64",
            ));
        }
    };
    // Base64 grows data by 4/3: refuse oversized input before decoding it.
    if data.len() > MAX_IMAGE_BYTES.div_ceil(3) * 4 {
        return Err(invalid("image must be at most 100 KB"));
    }
    let bytes = STANDARD
        .decode(data)
        .map_err(|_| invalid("data URL is not valid base64"))?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(invalid("image must be at most 100 KB"));
    }
    if !kind.matches(&bytes) {
        return Err(invalid("data URL bytes are not the declared image type"));
    }
    Ok(ProfileImage(input.to_owned()))
}

enum ImageKind {
    Png,
    Jpeg,
    Gif,
    Webp,
}

impl ImageKind {
    fn matches(&self, bytes: &[u8]) -> bool {
        match self {
            ImageKind::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            ImageKind::Jpeg => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
            ImageKind::Gif => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
            ImageKind::Webp => {
                bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_url(kind: &str, bytes: &[u8]) -> String {
        format!("data:image/{kind};base64,{}", STANDARD.encode(bytes))
    }

    fn png(len: usize) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.resize(len, 0);
        bytes
    }

    #[test]
    fn web_urls_are_accepted_as_given() {
        for url in ["https://cdn.example.com/a.png", "http://example.com/x?y=1"] {
            assert_eq!(ProfileImage::parse(url).unwrap().as_str(), url);
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN - 20));
        assert_eq!(long.len(), MAX_URL_LEN);
        assert!(ProfileImage::parse(&long).is_ok());
        assert!(ProfileImage::parse(&format!("{long}a")).is_err());
    }

    #[test]
    fn data_urls_of_real_images_up_to_100_kb_are_accepted() {
        assert!(ProfileImage::parse(&data_url("png", &png(MAX_IMAGE_BYTES))).is_ok());
        assert!(ProfileImage::parse(&data_url("jpeg", &[0xFF, 0xD8, 0xFF, 0xE0, 0])).is_ok());
        assert!(ProfileImage::parse(&data_url("gif", b"GIF89a....")).is_ok());
        assert!(ProfileImage::parse(&data_url("webp", b"RIFF\0\0\0\0WEBPVP8 ")).is_ok());
    }

    #[test]
    fn svg_scripts_other_schemes_lies_and_oversized_images_are_refused() {
        for bad in [
            data_url("svg+xml", b"<svg/>"),
            data_url("gif", &png(64)),
            data_url("png", &png(MAX_IMAGE_BYTES + 1)),
            "data:image/png;base64,@@@".to_owned(),
            "data:image/png,rawbytes".to_owned(),
            "javascript:alert(1)".to_owned(),
            "ftp://example.com/a.png".to_owned(),
            "/relative/a.png".to_owned(),
            "https://".to_owned(),
            "https://example.com/a\u{0}.png".to_owned(),
            "https://example.com/a\u{7}b.png".to_owned(),
            String::new(),
        ] {
            assert_eq!(
                ProfileImage::parse(&bad).unwrap_err().code,
                ErrorCode::InvalidImage,
                "{bad:.60}"
            );
        }
    }
}
