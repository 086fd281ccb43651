//! A wasi:http handler for hako's tests.
//!
//! `GET /anything` answers 200 with "<GREETING env var>: <method> <path>\n",
//! so the test sees that the request and the container's environment reach
//! the guest; `/trap` panics (a wasm trap) before answering, so the test sees
//! the host turn a failed guest into a 500.

use std::io::Write as _;

use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let method = match request.method() {
            Method::Get => "GET".to_string(),
            Method::Post => "POST".to_string(),
            Method::Other(other) => other,
            _ => "OTHER".to_string(),
        };
        let path = request.path_with_query().unwrap_or_default();
        if path == "/trap" {
            panic!("asked to trap");
        }
        let greeting = wasip2::cli::environment::get_environment()
            .into_iter()
            .find(|(k, _)| k == "GREETING")
            .map(|(_, v)| v)
            .unwrap_or_else(|| "no greeting".to_string());

        let headers =
            Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())]).unwrap();
        let response = OutgoingResponse::new(headers);
        response.set_status_code(200).unwrap();
        let body = response.body().unwrap();
        ResponseOutparam::set(response_out, Ok(response));

        let mut out = body.write().unwrap();
        writeln!(out, "{greeting}: {method} {path}").unwrap();
        out.flush().unwrap();
        drop(out);
        OutgoingBody::finish(body, None).unwrap();
    }
}

wasip2::http::proxy::export!(Hello);
