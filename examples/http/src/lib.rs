//! A wasi-http proxy component: the host calls the exported
//! `wasi:http/incoming-handler.handle` once per request. The body echoes the
//! request path so a test can tell its request was the one answered.

use std::io::Write;

use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Hello;

wasip2::http::proxy::export!(Hello);

impl Guest for Hello {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        // path-with-query is optional in wasi-http (absolute-form requests
        // may lack it); "/" is what a client would have meant.
        let path = request.path_with_query().unwrap_or_else(|| "/".to_string());
        let body_text = format!("hello from wasi-http {path}");

        let headers = Fields::new();
        // Content-length up front lets the host answer without chunking.
        let _ = headers.set("content-type", &[b"text/plain".to_vec()]);
        let _ = headers.set(
            "content-length",
            &[body_text.len().to_string().into_bytes()],
        );
        let response = OutgoingResponse::new(headers);
        let _ = response.set_status_code(200);

        // The body has to be taken while we still own the response: set()
        // hands the response to the host, and the body is written after.
        let body = response.body().expect("body taken once");
        ResponseOutparam::set(response_out, Ok(response));

        // The std Write impl waits on check-write for us, so bodies larger
        // than one write permit need no loop here.
        let mut stream = body.write().expect("stream taken once");
        let _ = stream.write_all(body_text.as_bytes());
        let _ = stream.flush();
        // The stream is a child of the body: it must be dropped before
        // the body can be finished.
        drop(stream);
        let _ = OutgoingBody::finish(body, None);
    }
}
