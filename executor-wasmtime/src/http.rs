//! Components exporting `wasi:http/incoming-handler`, served over HTTP/1.1
//! the way `wasmtime serve` does: one fresh store and instance per request.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use hako_executors::wasm::{WasiConfig, WasmModule};
use hako_executors::{EngineKind, ExecutorError, Prepared};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use wasmtime::component::{Component, Linker, ResourceTable, Type};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::component::{self, ExportedInstance};
use crate::errors;
use crate::wasi::{self, Blocking};

/// How long to wait before accepting again after `accept` failed (out of
/// file descriptors, typically), so that the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What each request's store holds.
struct HttpState {
    ctx: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
}

impl WasiView for HttpState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HttpState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            // Default hooks: outgoing requests go out through the
            // container's network, like any other socket.
            hooks: Default::default(),
        }
    }
}

/// Checks `handle: func(request: own<incoming-request>, response-out:
/// own<response-outparam>)` as far as its shape goes, because wasmtime
/// checks export types only when it instantiates, which is at `start`.
/// (Which resources they are is checked then: the first request fails.)
pub(crate) fn check_handler(engine: &Engine, handler: &ExportedInstance) -> Result<(), String> {
    let func = component::exported_func(engine, handler, "handle")?;
    let params = func.params().map(|(_, ty)| ty).collect::<Vec<_>>();
    if matches!(&params[..], [Type::Own(_), Type::Own(_)]) && func.results().len() == 0 {
        Ok(())
    } else {
        Err(format!(
            "{}: handle is not a func(own<incoming-request>, own<response-outparam>)",
            handler.name
        ))
    }
}

/// A linked HTTP handler and its bound listener, waiting for `start`.
pub(crate) struct HttpServer {
    pre: ProxyPre<HttpState>,
    listener: TcpListener,
    wasi: Arc<WasiConfig>,
}

/// Links WASI preview 2 and `wasi:http`, checks the handler's type, and
/// binds [`WasiConfig::http_addr`].
///
/// The listener is bound here, at `create`, so that a taken port fails
/// `create` like any other error of the workload. Connections made before
/// `start` wait in the kernel's backlog and are answered once it runs.
pub(crate) fn prepare(
    module: &WasmModule,
    engine: &Engine,
    component: &Component,
    wasi: WasiConfig,
) -> Result<HttpServer, ExecutorError> {
    let mut linker = Linker::<HttpState>::new(engine);
    // All of WASI, not only the proxy world, as `wasmtime serve` does: the
    // container is the sandbox, and handlers built from ordinary crates
    // often import `wasi:cli` or `wasi:filesystem`.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)
        .and_then(|()| wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker))
        .map_err(|e| errors::compile(module, &e))?;
    let pre = linker
        .instantiate_pre(component)
        .and_then(ProxyPre::new)
        .map_err(|e| errors::compile(module, &e))?;
    // Every request builds its own context; build one now so that a missing
    // preopened directory fails `create`, not each request.
    wasi::builder(&wasi, Blocking::Pool)?;
    let listener = TcpListener::bind(wasi.http_addr).map_err(|e| ExecutorError::Engine {
        engine: EngineKind::Wasmtime,
        message: format!("listening on {}: {e}", wasi.http_addr),
    })?;
    Ok(HttpServer {
        pre,
        listener,
        wasi: Arc::new(wasi),
    })
}

impl Prepared for HttpServer {
    /// Serves until the process is killed; returns only if serving cannot
    /// start.
    fn run(self: Box<Self>) -> Result<i32, ExecutorError> {
        let HttpServer {
            pre,
            listener,
            wasi,
        } = *self;
        // Created now rather than in `prepare`: its worker threads are the
        // first threads of init, and they belong to the running guest.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| io_failure("starting the tokio runtime", &e))?;
        let addr = wasi.http_addr;
        runtime.block_on(async move {
            listener
                .set_nonblocking(true)
                .map_err(|e| io_failure("making the listener non-blocking", &e))?;
            let listener = tokio::net::TcpListener::from_std(listener)
                .map_err(|e| io_failure("registering the listener", &e))?;
            tracing::debug!(%addr, "serving wasi:http");
            let server = Arc::new(Server { pre, wasi });
            loop {
                match listener.accept().await {
                    Ok((stream, peer)) => {
                        tokio::task::spawn(server.clone().serve_connection(stream, peer));
                    }
                    Err(err) => {
                        tracing::warn!(%err, "accepting an http connection");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                }
            }
        })
    }
}

/// An [`ExecutorError::Engine`] for a failed host I/O operation.
fn io_failure(what: &str, err: &std::io::Error) -> ExecutorError {
    ExecutorError::Engine {
        engine: EngineKind::Wasmtime,
        message: format!("{what}: {err}"),
    }
}

/// What every connection shares.
struct Server {
    pre: ProxyPre<HttpState>,
    wasi: Arc<WasiConfig>,
}

impl Server {
    /// Serves the requests of one connection, with keep-alive.
    async fn serve_connection(self: Arc<Self>, stream: tokio::net::TcpStream, peer: SocketAddr) {
        let service = hyper::service::service_fn(move |req| {
            let server = self.clone();
            async move { Ok::<_, Infallible>(server.respond(req).await) }
        });
        if let Err(err) = http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service)
            .await
        {
            tracing::debug!(%peer, %err, "http connection ended with an error");
        }
    }

    /// The guest's response, or a 500 if the guest failed before giving one.
    async fn respond(&self, req: Request<Incoming>) -> Response<HyperOutgoingBody> {
        let what = format!("{} {}", req.method(), req.uri());
        match self.handle(req, what.clone()).await {
            Ok(response) => response,
            Err(err) => {
                report(&what, &err);
                let mut response = Response::new(
                    Empty::<Bytes>::new()
                        .map_err(|never| match never {})
                        .boxed_unsync(),
                );
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        }
    }

    /// Runs the guest's handler in a fresh store for one request.
    async fn handle(
        &self,
        req: Request<Incoming>,
        what: String,
    ) -> wasmtime::Result<Response<HyperOutgoingBody>> {
        let ctx = wasi::builder(&self.wasi, Blocking::Pool)
            .map_err(|e| wasmtime::Error::msg(e.to_string()))?
            .build();
        let mut store = Store::new(
            self.pre.engine(),
            HttpState {
                ctx,
                http: WasiHttpCtx::new(),
                table: ResourceTable::new(),
            },
        );
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let req = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let pre = self.pre.clone();

        // The guest may keep running after it has handed over the response
        // (streaming the body), so it runs in its own task.
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, req, out)
                .await
        });

        match receiver.await {
            Ok(Ok(response)) => {
                // The guest may still fail while streaming the body; the
                // client sees a cut response, the operator sees why.
                tokio::task::spawn(async move {
                    if let Ok(Err(err)) = task.await {
                        report(&what, &err);
                    }
                });
                Ok(response)
            }
            Ok(Err(code)) => Err(wasmtime::format_err!("guest answered with error {code:?}")),
            // The sender was dropped with the store: the guest returned or
            // failed without setting a response.
            Err(_) => match task.await {
                Ok(Ok(())) => Err(wasmtime::format_err!(
                    "guest never invoked `response-outparam::set`"
                )),
                Ok(Err(err)) => Err(err),
                Err(join) => Err(wasmtime::format_err!("guest task failed: {join}")),
            },
        }
    }
}

/// Reports a failed request on the container's stderr, where its operator
/// looks (`wasmtime serve` prints failed requests there too), one line.
fn report(what: &str, err: &wasmtime::Error) {
    eprintln!("wasi:http {what}: {}", errors::run_failure(err));
}
