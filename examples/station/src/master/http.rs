//! A minimal HTTP/1.1 JSON client over a tokio `TcpStream`, for the demo, the tests and the
//! scale run (no HTTP client dependency): one request per connection (`Connection: close`),
//! `Content-Length` or chunked bodies, the operator's key as `Authorization: Bearer`.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `method path` with an optional JSON body to `addr`, authenticated with the operator
/// key `key`, and returns the status and the JSON answer (`Value::Null` for an empty body).
/// Times out after 30 s.
pub async fn http_json(
    addr: SocketAddr,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    tokio::time::timeout(
        Duration::from_secs(30),
        request(addr, key, method, path, body),
    )
    .await
    .map_err(|_| format!("{method} {path}: timed out"))?
}

/// GETs every page of a list (`{items, next}`): `path` first, then with `after=<next>` until
/// `next` is null; answers all the items. Fails on a status other than 200.
pub async fn http_list(addr: SocketAddr, key: &str, path: &str) -> Result<Vec<Value>, String> {
    let (base, query) = path.split_once('?').unwrap_or((path, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("after="))
        .collect();
    let mut items = Vec::new();
    let mut after: Option<Value> = None;
    loop {
        let mut q = kept.clone();
        let cursor;
        if let Some(a) = &after {
            cursor = format!("after={a}");
            q.push(&cursor);
        }
        let url = if q.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", q.join("&"))
        };
        let (status, v) = http_json(addr, key, "GET", &url, None).await?;
        if status != 200 {
            return Err(format!("GET {url}: {status} {v}"));
        }
        let Value::Object(mut page) = v else {
            return Err(format!("GET {url}: not a list page"));
        };
        if let Some(Value::Array(mut more)) = page.remove("items") {
            items.append(&mut more);
        }
        match page.remove("next") {
            Some(Value::Null) | None => return Ok(items),
            Some(next) => after = Some(next),
        }
    }
}

/// Sends `raw` (a whole request, as written) to `addr` and returns everything the server
/// answered until it closed the connection (at most 30 s).
pub async fn http_raw(addr: SocketAddr, raw: &[u8]) -> Result<Vec<u8>, String> {
    let go = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream
            .write_all(raw)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let mut out = Vec::new();
        stream
            .read_to_end(&mut out)
            .await
            .map_err(|e| format!("receive: {e}"))?;
        Ok(out)
    };
    tokio::time::timeout(Duration::from_secs(30), go)
        .await
        .map_err(|_| "raw request: timed out".to_string())?
}

async fn request(
    addr: SocketAddr,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Authorization: Bearer {key}\r\n"
    );
    if !body.is_empty() || method == "POST" {
        req.push_str("Content-Type: application/json\r\n");
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| format!("receive: {e}"))?;
    parse_response(&raw)
}

/// Parses a complete HTTP/1.1 response (status line, headers, body).
pub fn parse_response(raw: &[u8]) -> Result<(u16, Value), String> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("response without a header end")?;
    let head = std::str::from_utf8(raw.get(..head_end).unwrap_or(&[]))
        .map_err(|_| "response header is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut chunked = false;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
            chunked = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        }
    }
    let rest = raw.get(head_end + 4..).unwrap_or(&[]);
    let body = if chunked {
        dechunk(rest)?
    } else {
        match length {
            Some(n) => rest
                .get(..n)
                .ok_or("body shorter than Content-Length")?
                .to_vec(),
            None => rest.to_vec(),
        }
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok((status, Value::Null));
    }
    let v = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    Ok((status, v))
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(rest.get(..line_end).unwrap_or(&[]))
            .map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = rest.get(line_end + 2..).unwrap_or(&[]);
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(rest.get(..size).ok_or("truncated chunk")?);
        rest = rest.get(size + 2..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_with_length_chunks_or_nothing() {
        let r = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 8\r\n\r\n{\"a\":12}";
        assert_eq!(
            parse_response(r).unwrap(),
            (200, serde_json::json!({"a": 12}))
        );
        let r = b"HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"b\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        assert_eq!(
            parse_response(r).unwrap(),
            (404, serde_json::json!({"b": 1}))
        );
        let r = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(parse_response(r).unwrap(), (204, Value::Null));
        assert!(parse_response(b"HTTP/1.1 200").is_err());
        assert!(parse_response(b"garbage\r\n\r\n").is_err());
    }
}
