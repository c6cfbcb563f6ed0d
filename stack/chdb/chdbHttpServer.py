"""A small ClickHouse HTTP interface over one chDB session (a current ClickHouse engine, in-process).

ibflow's tests use it to run the real @clickhouse/client, and so ibflow's own code (migrations,
the depth sink's RowBinary inserts, the read queries, the retention activity), unchanged against a
current engine; Debian only ships ClickHouse 18.16. It answers what that client sends:

- GET/POST/HEAD /ping and GET / -> "Ok.\n".
- POST /?query=...&database=...&<settings>&param_<name>=... with the query in the URL and/or the
  body. As ClickHouse does, the URL's query and the body are joined with a newline, except for an
  `INSERT ... FORMAT <fmt>` in the URL with data in the body: the data goes to a temp file and the
  statement becomes `INSERT ... FROM INFILE '<file>' FORMAT <fmt>`.
- Errors as ClickHouse answers them: a non-2xx status, X-ClickHouse-Exception-Code, and a body
  `Code: N. DB::Exception: ... (NAME) (version V)`, which the client parses into .code/.type.

Limits (it is a test double for the wire protocol, the engine behind it is real):
- No users, passwords or grants: Authorization and X-ClickHouse-User/Key are accepted and ignored.
- One session, one query at a time (a lock); responses are sent whole, not streamed; no progress
  headers, no response compression (request bodies in gzip/deflate are accepted).
- URL settings are applied with SET before the query and reset to DEFAULT after it; query
  parameters (param_*) are passed to chDB. HTTP sessions (session_id) are not kept apart.
- Several statements in one request run (ClickHouse refuses them); TCP/native protocol is absent.

Usage: python chdbHttpServer.py --port N --data DIR [--host 127.0.0.1]
Exits when its standard input closes, so a parent that dies leaves no server behind.
"""

import argparse
import gzip
import os
import re
import sys
import tempfile
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb import session as chdb_session

# URL parameters the HTTP interface reads itself; every other one is a setting.
NOT_SETTINGS = {
    'query', 'database', 'default_format', 'query_id', 'session_id', 'session_timeout', 'session_check',
    'user', 'password', 'quota_key', 'buffer_size', 'wait_end_of_query', 'compress', 'decompress',
    'stacktrace', 'role', 'client_protocol_version', 'close_session',
}
SETTING_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
INSERT_WITH_FORMAT = re.compile(r'^(?P<head>\s*INSERT\s+INTO\s.+?)\s+FORMAT\s+(?P<format>\w+)\s*;?\s*$', re.I | re.S)
ERROR_TEXT = re.compile(r'Code: (?P<code>\d+)\..*?\((?P<name>[A-Z0-9_]*[A-Z]{3}[A-Z0-9_]*)\)', re.S)

# The HTTP status ClickHouse gives an exception, by its name (src/Server/HTTP/exceptionCodeToHTTPStatus.cpp).
STATUS_BY_NAME = {
    **{n: 400 for n in (
        'BAD_ARGUMENTS', 'CANNOT_COMPILE_REGEXP', 'CANNOT_PARSE_TEXT', 'CANNOT_PARSE_ESCAPE_SEQUENCE',
        'CANNOT_PARSE_QUOTED_STRING', 'CANNOT_PARSE_DATE', 'CANNOT_PARSE_DATETIME', 'CANNOT_PARSE_NUMBER',
        'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING', 'CANNOT_PARSE_IPV4', 'CANNOT_PARSE_IPV6',
        'CANNOT_PARSE_INPUT_ASSERTION_FAILED', 'CANNOT_PARSE_UUID', 'DUPLICATE_COLUMN', 'ILLEGAL_COLUMN',
        'UNKNOWN_ELEMENT_IN_AST', 'UNKNOWN_TYPE_OF_AST_NODE', 'THERE_IS_NO_COLUMN', 'TOO_DEEP_AST',
        'TOO_BIG_AST', 'UNEXPECTED_AST_STRUCTURE', 'SYNTAX_ERROR', 'INCORRECT_DATA', 'TYPE_MISMATCH',
        'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE')},
    **{n: 404 for n in (
        'UNKNOWN_TABLE', 'UNKNOWN_FUNCTION', 'UNKNOWN_IDENTIFIER', 'UNKNOWN_TYPE', 'UNKNOWN_STORAGE',
        'UNKNOWN_DATABASE', 'UNKNOWN_SETTING', 'UNKNOWN_DIRECTION_OF_SORTING', 'UNKNOWN_AGGREGATE_FUNCTION',
        'UNKNOWN_FORMAT', 'UNKNOWN_DATABASE_ENGINE', 'UNKNOWN_TYPE_OF_QUERY', 'UNKNOWN_ROLE')},
    'QUERY_IS_TOO_LARGE': 413,
    'NOT_IMPLEMENTED': 501,
    'SOCKET_TIMEOUT': 503,
    'CANNOT_OPEN_FILE': 503,
    'CANNOT_SCHEDULE_TASK': 503,
    'TIMEOUT_EXCEEDED': 408,
    'UNSUPPORTED_MEDIA_TYPE': 415,
    'REQUIRED_PASSWORD': 401,
    **{n: 403 for n in ('UNKNOWN_USER', 'WRONG_PASSWORD', 'AUTHENTICATION_FAILED', 'SET_NON_GRANTED_ROLE', 'ACCESS_DENIED')},
}


class QueryError(Exception):
    """A ClickHouse exception: its code, name and text as the server would send them."""

    def __init__(self, code, name, text):
        super().__init__(text)
        self.code = code
        self.name = name
        self.text = text


def sql_string(text):
    return "'" + text.replace('\\', '\\\\').replace("'", "\\'") + "'"


class Engine:
    """One chDB session; queries run one at a time."""

    def __init__(self, data_dir):
        self.session = chdb_session.Session(data_dir)
        self.lock = threading.Lock()
        self.version = self._run('SELECT version()', 'TabSeparated').decode().strip()
        self.tmp_dir = os.path.join(data_dir, 'shim_tmp')
        os.makedirs(self.tmp_dir, exist_ok=True)

    def _run(self, sql, fmt, params=None):
        try:
            result = self.session.query(sql, fmt, params=params) if params else self.session.query(sql, fmt)
        except Exception as err:  # chdb raises ChdbError (a RuntimeError) with ClickHouse's text
            raise self._as_query_error(str(err)) from None
        if result is not None and getattr(result, 'has_error', lambda: False)():
            raise self._as_query_error(result.error_message())
        return result.bytes() if result is not None else b''

    def _as_query_error(self, text):
        text = text.strip()
        m = ERROR_TEXT.search(text)
        if not m:
            return QueryError(1001, 'STD_EXCEPTION', f'Code: 1001. DB::Exception: {text}. (STD_EXCEPTION)')
        return QueryError(int(m.group('code')), m.group('name'), text)

    def execute(self, sql, database, settings, params, default_format, data):
        with self.lock:
            self._run(f'USE {quote_identifier(database)}', 'TabSeparated')
            applied = []
            try:
                for name, value in settings:
                    self._run(f'SET {name} = {sql_string(value)}', 'TabSeparated')
                    applied.append(name)
                if data is None:
                    return self._run(sql, default_format, params)
                fd, path = tempfile.mkstemp(dir=self.tmp_dir, suffix='.data')
                try:
                    with os.fdopen(fd, 'wb') as f:
                        f.write(data)
                    m = INSERT_WITH_FORMAT.match(sql)
                    return self._run(f"{m.group('head')} FROM INFILE {sql_string(path)} FORMAT {m.group('format')}", default_format, params)
                finally:
                    os.unlink(path)
            finally:
                for name in applied:
                    try:
                        self._run(f'SET {name} = DEFAULT', 'TabSeparated')
                    except QueryError:
                        pass


def quote_identifier(name):
    return '`' + name.replace('\\', '\\\\').replace('`', '\\`') + '`'


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'chdb-http-shim'
    engine = None  # set by main

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # quiet: the tests read errors from the client, not from this log

    def do_HEAD(self):
        if urlsplit(self.path).path in ('/', '/ping'):
            self._reply(200, b'', {'Content-Length': '4'}, head_only=True)
        else:
            self._reply(404, b'')

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path in ('/', '/ping') and not url.query:
            self._reply(200, b'Ok.\n')
            return
        self._query(url, b'')

    def do_POST(self):
        url = urlsplit(self.path)
        body = self._body()
        if url.path == '/ping':
            self._reply(200, b'Ok.\n')
            return
        self._query(url, body)

    def _body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass  # trailers
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body = b''.join(chunks)
        else:
            body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        encoding = self.headers.get('Content-Encoding', '').lower()
        if encoding == 'gzip':
            body = gzip.decompress(body)
        elif encoding == 'deflate':
            body = zlib.decompress(body)
        return body

    def _query(self, url, body):
        if url.path != '/':
            self._error(QueryError(0, 'UNKNOWN', f'There is no handle {url.path}'), status=404)
            return
        params = parse_qsl(url.query, keep_blank_values=True)
        args = dict(params)
        url_query = args.get('query', '')
        sql, data = url_query, None
        if url_query and body and INSERT_WITH_FORMAT.match(url_query):
            data = body  # INSERT ... FORMAT X in the URL, its rows in the body
        elif body:
            sql = f'{url_query}\n{body.decode()}' if url_query else body.decode()
        if not sql.strip():
            self._error(QueryError(62, 'SYNTAX_ERROR', 'Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)'))
            return
        settings = []
        for name, value in params:
            if name in NOT_SETTINGS or name.startswith('param_'):
                continue
            if not SETTING_NAME.match(name):
                self._error(QueryError(115, 'UNKNOWN_SETTING', f'Code: 115. DB::Exception: Unknown setting {name!r}. (UNKNOWN_SETTING)'))
                return
            settings.append((name, value))
        query_params = {k[len('param_'):]: v for k, v in params if k.startswith('param_')}
        try:
            out = self.engine.execute(sql, args.get('database') or 'default', settings, query_params,
                                      args.get('default_format') or 'TabSeparated', data)
        except QueryError as err:
            self._error(err)
            return
        headers = {'X-ClickHouse-Summary': '{}'}
        if 'query_id' in args:
            headers['X-ClickHouse-Query-Id'] = args['query_id']
        self._reply(200, out, headers)

    def _error(self, err, status=None):
        text = err.text if '(version ' in err.text else f'{err.text} (version {self.engine.version})'
        self._reply(status or STATUS_BY_NAME.get(err.name, 500), (text + '\n').encode(),
                    {'X-ClickHouse-Exception-Code': str(err.code)})

    def _reply(self, status, body, headers=None, head_only=False):
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain; charset=UTF-8')
        self.send_header('X-ClickHouse-Timezone', 'UTC')
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if 'Content-Length' not in (headers or {}):
            self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if not head_only:
            self.wfile.write(body)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--data', required=True, help='the chDB session directory (databases and tables live here)')
    parser.add_argument('--host', default='127.0.0.1')
    opts = parser.parse_args()
    Handler.engine = Engine(opts.data)
    server = ThreadingHTTPServer((opts.host, opts.port), Handler)
    server.daemon_threads = True

    def exit_when_stdin_closes():
        while sys.stdin.buffer.read(65536):
            pass
        os._exit(0)

    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print(f'chdb-http-shim listening on http://{opts.host}:{opts.port} (engine {Handler.engine.version})', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
