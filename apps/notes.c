/*
 * notes.c - a small notes service: a JSON API and an HTML page over one
 * SQLite database, written with sluice's request helpers, so that it
 * holds no parser and no escaper of its own.  Routes are relative to the
 * mount (`make run` mounts it at /notes: the page is /notes, the list
 * /notes/notes):
 *
 *	GET    /		the page: the newest notes and a form to add one
 *	GET    /notes?limit=N	the newest N notes as JSON (1 to MAX_LIMIT)
 *	POST   /notes		add one: from JSON {"text": ..., "author": ...},
 *				201 and a Location; from the page's form, 303
 *				back to the page, the author kept in a cookie
 *	GET    /notes/:id	one note as JSON
 *	DELETE /notes/:id	remove one: 204
 *
 * Settings, from the module's `settings` group in sluice.conf:
 *	db = "/var/lib/sluice/notes.db";	required; created if missing
 *	page_size = 20;				list length when no limit is given
 *	max_body = 16384;			a larger POST gets 413
 *
 * It links with -lsqlite3 -ljansson (README, "Writing a module").
 */
#include <errno.h>

#include <jansson.h>
#include <sqlite3.h>
#include <sluice.h>

#define MAX_LIMIT 100				/* a list is a page, never a dump */
#define BUSY_MS 2000				/* wait for another worker's write */
#define AUTHOR_MAX_AGE (30LL * 24 * 3600)	/* a returning writer is known */

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, author TEXT NOT NULL,"
	" text TEXT NOT NULL, created INTEGER NOT NULL DEFAULT (unixepoch()))";

/*
 * Each worker is its own process with its own handle on the file and its
 * own statements, prepared once in init.  SQLite's locks keep workers that
 * write at once apart; the busy timeout makes one wait rather than fail.
 */
enum { LIST, GET, ADD, DEL, NSTMT };
static const char *const sql[NSTMT] = {
	[LIST] = "SELECT id, author, text, created FROM notes ORDER BY id DESC LIMIT ?",
	[GET] = "SELECT id, author, text, created FROM notes WHERE id = ?",
	[ADD] = "INSERT INTO notes (author, text) VALUES (?, ?)",
	[DEL] = "DELETE FROM notes WHERE id = ?",
};
static sqlite3 *db;
static sqlite3_stmt *stmt[NSTMT];
static long long page_size, max_body;

/* Also what a failing init calls, since fini follows only an init that worked. */
static void notes_fini(struct sl_context *ctx)
{
	(void)ctx;
	for (int i = 0; i < NSTMT; i++) {
		sqlite3_finalize(stmt[i]);
		stmt[i] = NULL;
	}
	sqlite3_close(db);
	db = NULL;
}

static int open_db(const char *path)
{
	if (sqlite3_open(path, &db) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, BUSY_MS) != SQLITE_OK ||
	    sqlite3_exec(db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	for (int i = 0; i < NSTMT; i++)
		if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmt[i],
				       NULL) != SQLITE_OK)
			return -1;
	return 0;
}

static int notes_init(struct sl_context *ctx)
{
	const char *path = sl_setting_str(ctx, "db", NULL);

	page_size = sl_setting_int(ctx, "page_size", 20);
	max_body = sl_setting_int(ctx, "max_body", 16384);
	if (!path || page_size < 1 || page_size > MAX_LIMIT || max_body < 1) {
		sl_log(NULL, SL_LOG_ERROR, "settings: db is required, page_size must be "
		       "1 to %d and max_body positive", MAX_LIMIT);
		return -1;
	}
	if (open_db(path) < 0) {
		sl_log(NULL, SL_LOG_ERROR, "%s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
		notes_fini(ctx);
		return -1;
	}
	sl_log(NULL, SL_LOG_NOTICE, "notes kept in %s", path);
	return 0;
}

/*
 * Step `s`: 1 with a row, 0 when done, -1 on an error, logged.  Unless it
 * gave a row, `s` is reset, ending its read or write; a caller given a row
 * resets it when done, so that no worker keeps a lock between requests.
 */
static int step(struct sl_request *req, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		sl_log(req, SL_LOG_ERROR, "sqlite: %s", sqlite3_errmsg(db));
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static const char *column(sqlite3_stmt *s, int i)
{
	const char *v = (const char *)sqlite3_column_text(s, i);

	return v ? v : "";
}

/* The row `s` is on, as a JSON object. */
static int write_note(struct sl_request *req, sqlite3_stmt *s)
{
	sl_printf(req, "{\"id\":%lld,\"author\":", (long long)sqlite3_column_int64(s, 0));
	sl_write_json_string(req, column(s, 1));
	sl_puts(req, ",\"text\":");
	sl_write_json_string(req, column(s, 2));
	return sl_printf(req, ",\"created\":%lld}", (long long)sqlite3_column_int64(s, 3));
}

/*
 * An error of the JSON API, in JSON whatever Accept says (a script rarely
 * sends one), saying what was wrong, which sl_error's body cannot.
 */
static int api_error(struct sl_request *req, int status, const char *why)
{
	sl_set_status(req, status);
	sl_add_header(req, "Content-Type", "application/json");
	sl_printf(req, "{\"status\":%d,\"error\":", status);
	sl_write_json_string(req, why);
	sl_puts(req, ",\"request_id\":");
	sl_write_json_string(req, sl_request_id(req));
	return sl_puts(req, "}\n");
}

static int list(struct sl_request *req)
{
	long long limit = sl_query_int(req, "limit", page_size);
	sqlite3_stmt *s = stmt[LIST];
	int rc, n = 0;

	if (limit < 1 || limit > MAX_LIMIT)
		return api_error(req, 400, "limit must be a number from 1 to 100");
	sqlite3_bind_int64(s, 1, limit);
	sl_add_header(req, "Content-Type", "application/json");
	sl_puts(req, "{\"notes\":[");
	while ((rc = step(req, s)) == 1) {
		sl_puts(req, n++ ? "," : "");
		write_note(req, s);
	}
	return rc < 0 ? -1 : sl_puts(req, "]}\n");
}

/* Statement `i` with the path's :id bound, as text: "abc" or "" matches no row. */
static sqlite3_stmt *by_id(struct sl_request *req, int i)
{
	sqlite3_bind_text(stmt[i], 1, sl_capture(req, "id"), -1, SQLITE_STATIC);
	return stmt[i];
}

/* The note `s` selects, as JSON, or 404. */
static int show(struct sl_request *req, sqlite3_stmt *s)
{
	int rc = step(req, s);

	if (rc <= 0)
		return rc < 0 ? -1 : api_error(req, 404, "no such note");
	sl_add_header(req, "Content-Type", "application/json");
	rc = write_note(req, s);
	sqlite3_reset(s);
	return rc < 0 ? -1 : sl_puts(req, "\n");
}

static int get(struct sl_request *req)
{
	return show(req, by_id(req, GET));
}

static int del(struct sl_request *req)
{
	if (step(req, by_id(req, DEL)) < 0)
		return -1;
	if (sqlite3_changes(db) == 0)
		return api_error(req, 404, "no such note");
	return sl_set_status(req, 204);
}

/* Store a note: its id, or -1.  No author, or an empty one, is "anonymous". */
static long long insert(struct sl_request *req, const char *author, const char *text)
{
	sqlite3_stmt *s = stmt[ADD];

	sqlite3_bind_text(s, 1, author && *author ? author : "anonymous", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
	return step(req, s) < 0 ? -1 : sqlite3_last_insert_rowid(db);
}

/* 201 with the new note, and its address in Location. */
static int created(struct sl_request *req, long long id)
{
	const char *location = sl_link(req, "/notes/%lld", id);

	if (!location)
		return -1;
	sl_set_status(req, 201);
	sl_add_header(req, "Location", location);
	sqlite3_bind_int64(stmt[GET], 1, id);
	return show(req, stmt[GET]);
}

/* JSON's own strings live in `doc`: it is released only once they are stored. */
static int create_from_json(struct sl_request *req, const char *body, size_t len)
{
	const char *text = "", *author = "";
	json_error_t err;
	json_t *doc = json_loadb(body, len, 0, &err);
	long long id;
	int rc;

	if (!doc)
		return api_error(req, 400, err.text);
	if (json_unpack_ex(doc, &err, 0, "{s:s, s?s}", "text", &text, "author", &author) < 0)
		rc = api_error(req, 400, err.text);
	else if (!*text)
		rc = api_error(req, 400, "text is empty");
	else if ((id = insert(req, author, text)) < 0)
		rc = -1;
	else
		rc = created(req, id);
	json_decref(doc);
	return rc;
}

/*
 * The page's form: the note is stored, the author kept in a cookie scoped
 * to the mount (URL-encoded: a cookie value cannot hold every byte), and
 * the browser sent back with a 303, so that a reload does not post twice.
 */
static int create_from_form(struct sl_request *req)
{
	const char *text = sl_form_get(req, "text");
	const char *author = sl_form_get(req, "author");
	struct sl_cookie_opts keep = { .path = sl_mount(req), .max_age = AUTHOR_MAX_AGE };

	if (!text || !*text)
		return sl_error(req, 400);
	if (insert(req, author, text) < 0 ||
	    sl_set_cookie(req, "author", sl_url_encode(req, author ? author : "", 0), &keep) < 0)
		return -1;
	return sl_redirect(req, 303, sl_mount(req));
}

/* The body is read with this module's limit; the form helpers parse that same body. */
static int create(struct sl_request *req)
{
	size_t len;
	const char *body = sl_read_body(req, (size_t)max_body, &len);

	if (!body)
		return errno == EFBIG ? sl_error(req, 413) : -1;
	if (sl_form_parse(req) == 0)
		return create_from_form(req);
	if (errno != EMEDIUMTYPE)
		return errno == E2BIG ? sl_error(req, 400) : -1;
	return create_from_json(req, body, len);
}

static int page(struct sl_request *req)
{
	const char *author = sl_cookie(req, "author");
	sqlite3_stmt *s = stmt[LIST];
	int rc;

	author = author ? sl_url_decode(req, author, 0) : NULL;
	sqlite3_bind_int64(s, 1, page_size);
	sl_add_header(req, "Content-Type", "text/html; charset=utf-8");
	sl_puts(req, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Notes</title>"
		"</head>\n<body>\n<h1>Notes</h1>\n<form method=\"post\" action=\"");
	sl_write_html(req, sl_link(req, "/notes"));
	sl_puts(req, "\">\n<input name=\"author\" placeholder=\"your name\" value=\"");
	sl_write_html(req, author ? author : "");
	sl_puts(req, "\">\n<textarea name=\"text\" required></textarea>\n"
		"<button>Add</button>\n</form>\n<ul>\n");
	while ((rc = step(req, s)) == 1) {
		sl_puts(req, "<li><b>");
		sl_write_html(req, column(s, 1));
		sl_puts(req, "</b>: ");
		sl_write_html(req, column(s, 2));
		sl_puts(req, "</li>\n");
	}
	return rc < 0 ? -1 : sl_puts(req, "</ul>\n</body></html>\n");
}

static const struct sl_route routes[] = {
	{ "GET", "/", page },
	{ "GET", "/notes", list },
	{ "POST", "/notes", create },
	{ "GET", "/notes/:id", get },
	{ "DELETE", "/notes/:id", del },
	{ 0 }
};

SLUICE_MODULE = {
	.abi = SLUICE_ABI_VERSION,
	.name = "notes",
	.init = notes_init,
	.fini = notes_fini,
	.routes = routes,
};
