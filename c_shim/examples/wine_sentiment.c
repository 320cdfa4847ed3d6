/*
 * wine_sentiment: MetaCall's wine-review experiment from C, against our libmetacall.so.
 *
 *   wine_sentiment [-n 1000] [-batch 32] [-threads 2] [-script wine_sentiment.py]
 *                  [-labels FILE] [-warmup] [-passes N] reviews.csv
 *
 * Reads the "description" column of the first n reviews, scores them with process_batch from
 * python_scripts/wine_sentiment.py in batches from several threads at once (each call holds
 * the GIL only while Python runs; TensorFlow releases it inside its kernels), and prints the
 * positive and negative counts and the time, then the same summary as one JSON line (the shape
 * of the Go winedemo's, read by `mlbridge bench wine`). -labels writes one label per review;
 * -warmup scores the reviews once, untimed, before the timed passes (steady-state timing);
 * with -passes N the time reported is the median of N timed passes.
 * Written only against MetaCall's API:
 *
 *   cc wine_sentiment.c -I c_shim/include -L build/lib -lmetacall -lpthread
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <metacall/metacall.h>

#ifndef MLBRIDGE_SCRIPTS_DIR
#define MLBRIDGE_SCRIPTS_DIR "python_scripts"
#endif

struct field {
	char *text;
	size_t length, capacity;
};

static void push(struct field *f, int c)
{
	if (f->length + 1 >= f->capacity) {
		f->capacity = f->capacity ? f->capacity * 2 : 256;
		f->text = realloc(f->text, f->capacity);
		if (f->text == NULL) {
			perror("wine_sentiment");
			exit(1);
		}
	}
	f->text[f->length++] = (char)c;
	f->text[f->length] = '\0';
}

/* Reads one CSV field (RFC 4180: quotes, doubled quotes, newlines inside quotes) into f.
   Returns the character that ended it: ',', '\n' or EOF. */
static int read_field(FILE *in, struct field *f)
{
	f->length = 0;
	push(f, 0);
	f->length = 0;
	int c = fgetc(in);
	if (c == '"') {
		for (;;) {
			c = fgetc(in);
			if (c == EOF)
				return EOF;
			if (c == '"') {
				c = fgetc(in);
				if (c != '"')
					break;
			}
			push(f, c);
		}
	}
	while (c != ',' && c != '\n' && c != EOF) {
		if (c != '\r')
			push(f, c);
		c = fgetc(in);
	}
	return c;
}

/* The description column of the first n rows; returns how many were read. */
static size_t read_descriptions(const char *path, char **out, size_t n)
{
	FILE *in = fopen(path, "r");
	if (in == NULL) {
		perror(path);
		exit(1);
	}
	struct field f = { 0 };
	int column = -1, index = 0, end;
	do {
		end = read_field(in, &f);
		if (strcmp(f.text, "description") == 0)
			column = index;
		++index;
	} while (end == ',');
	if (column < 0) {
		fprintf(stderr, "%s: not a wine reviews CSV (no description column)\n", path);
		exit(1);
	}
	size_t rows = 0;
	while (rows < n && end != EOF) {
		index = 0;
		do {
			end = read_field(in, &f);
			if (index++ == column)
				out[rows] = strdup(f.text);
		} while (end == ',');
		if (index > column)
			++rows;
	}
	free(f.text);
	fclose(in);
	return rows;
}

struct job {
	char **reviews;
	char *labels; /* 'P', 'N', or '?' (failed), one per review */
	size_t count, batch;
	atomic_size_t next;
	atomic_long positive, negative, failed;
	void *process_batch;
};

static int is_positive(void *result)
{
	void **entries = metacall_value_to_map(result);
	for (size_t i = 0; i < metacall_value_count(result); ++i) {
		void **kv = metacall_value_to_array(entries[i]);
		const char *key = metacall_value_to_string(kv[0]);
		if (key && strcmp(key, "label") == 0) {
			const char *label = metacall_value_to_string(kv[1]);
			return label && strcmp(label, "POSITIVE") == 0;
		}
	}
	return 0;
}

static void *worker(void *arg)
{
	struct job *job = arg;
	for (;;) {
		size_t lo = atomic_fetch_add(&job->next, job->batch);
		if (lo >= job->count)
			return NULL;
		size_t hi = lo + job->batch < job->count ? lo + job->batch : job->count;
		void *batch = metacall_value_create_array(NULL, hi - lo);
		void **items = metacall_value_to_array(batch);
		for (size_t i = lo; i < hi; ++i)
			items[i - lo] = metacall_value_create_string(job->reviews[i], strlen(job->reviews[i]));
		void *args[1] = { batch };
		void *result = metacallfv_s(job->process_batch, args, 1);
		metacall_value_destroy(batch); /* the caller owns the arguments */
		struct metacall_exception_type ex;
		if (metacall_error_from_value(result, &ex) == 0) {
			fprintf(stderr, "process_batch: %s: %s\n%s", ex.label, ex.message, ex.stacktrace);
			atomic_fetch_add(&job->failed, (long)(hi - lo));
		} else if (metacall_value_id(result) == METACALL_ARRAY && metacall_value_count(result) == hi - lo) {
			void **scores = metacall_value_to_array(result);
			for (size_t i = 0; i < hi - lo; ++i) {
				int positive = is_positive(scores[i]);
				job->labels[lo + i] = positive ? 'P' : 'N';
				atomic_fetch_add(positive ? &job->positive : &job->negative, 1);
			}
		} else {
			fprintf(stderr, "process_batch: unexpected result (id %d)\n", (int)metacall_value_id(result));
			atomic_fetch_add(&job->failed, (long)(hi - lo));
		}
		metacall_value_destroy(result);
	}
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One pass over every review from `threads` threads. */
static void score_all(struct job *job, pthread_t *pool, long threads)
{
	memset(job->labels, '?', job->count);
	atomic_store(&job->next, 0);
	atomic_store(&job->positive, 0);
	atomic_store(&job->negative, 0);
	atomic_store(&job->failed, 0);
	for (long t = 0; t < threads; ++t)
		pthread_create(&pool[t], NULL, worker, job);
	for (long t = 0; t < threads; ++t)
		pthread_join(pool[t], NULL);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VmHWM: the OS's peak resident set of the whole process (Python and TensorFlow included). */
static double peak_rss_mb(void)
{
	FILE *status = fopen("/proc/self/status", "r");
	char line[256];
	long kb = 0;
	while (status != NULL && fgets(line, sizeof line, status) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	if (status != NULL)
		fclose(status);
	return (double)kb / 1024.0;
}

static int write_labels(const char *path, const char *labels, size_t count)
{
	FILE *out = fopen(path, "w");
	if (out == NULL) {
		perror(path);
		return -1;
	}
	for (size_t i = 0; i < count; ++i)
		fputs(labels[i] == 'P' ? "POSITIVE\n" : labels[i] == 'N' ? "NEGATIVE\n" : "FAILED\n", out);
	return fclose(out);
}

static void fail(const char *what)
{
	struct metacall_exception_type ex;
	if (metacall_error_last(&ex) == 0)
		fprintf(stderr, "wine_sentiment: %s: %s: %s\n", what, ex.label, ex.message);
	else
		fprintf(stderr, "wine_sentiment: %s failed\n", what);
	exit(1);
}

int main(int argc, char **argv)
{
	long n = 1000, batch = 32, threads = 2;
	const char *script = "wine_sentiment.py", *csv = NULL, *labels_path = NULL;
	int warmup = 0;
	long passes = 1;
	double t0 = now();
	for (int i = 1; i < argc; ++i) {
		if (i + 1 < argc && strcmp(argv[i], "-n") == 0)
			n = atol(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "-batch") == 0)
			batch = atol(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "-threads") == 0)
			threads = atol(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "-script") == 0)
			script = argv[++i];
		else if (i + 1 < argc && strcmp(argv[i], "-labels") == 0)
			labels_path = argv[++i];
		else if (strcmp(argv[i], "-warmup") == 0)
			warmup = 1;
		else if (i + 1 < argc && strcmp(argv[i], "-passes") == 0)
			passes = atol(argv[++i]);
		else if (argv[i][0] != '-' && csv == NULL)
			csv = argv[i];
		else
			csv = NULL, n = 0;
	}
	if (csv == NULL || n <= 0 || batch <= 0 || threads <= 0 || threads > 256 || passes <= 0 || passes > 100) {
		fprintf(stderr,
			"usage: %s [-n 1000] [-batch 32] [-threads 2] [-script wine_sentiment.py] [-labels FILE] "
			"reviews.csv\n",
			argv[0]);
		return 2;
	}

	char **reviews = calloc((size_t)n, sizeof(char *));
	size_t count = read_descriptions(csv, reviews, (size_t)n);

	/* Like MetaCall, scripts are looked up in LOADER_SCRIPT_PATH (read at initialize). */
	setenv("LOADER_SCRIPT_PATH", MLBRIDGE_SCRIPTS_DIR, 0);
	if (metacall_initialize() != 0)
		fail("metacall_initialize");
	const char *paths[1] = { script };
	if (metacall_load_from_file("py", paths, 1, NULL) != 0)
		fail("metacall_load_from_file");

	struct job job = { .reviews = reviews, .count = count, .batch = (size_t)batch };
	job.labels = malloc(count + 1);
	job.process_batch = metacall_function("process_batch");
	if (job.process_batch == NULL)
		fail("metacall_function(\"process_batch\")");
	pthread_t *pool = calloc((size_t)threads, sizeof(pthread_t));
	double loaded = now(), seconds[100];
	if (warmup)
		score_all(&job, pool, threads);
	for (long p = 0; p < passes; ++p) {
		double start = now();
		score_all(&job, pool, threads);
		seconds[p] = now() - start;
	}
	qsort(seconds, (size_t)passes, sizeof(double), compare_doubles);
	double median = seconds[passes / 2];

	printf("reviews: %zu  positive: %ld  negative: %ld  failed: %ld\n", count, atomic_load(&job.positive),
	       atomic_load(&job.negative), atomic_load(&job.failed));
	printf("load: %.2f s  scoring: %.3f s (%ld threads, batches of %ld)\n", loaded - t0, median, threads, batch);
	printf("{\"host\": \"c\", \"reviews\": %zu, \"workers\": %ld, \"mode\": \"threads\", \"seconds\": %.4f, "
	       "\"seconds_total\": %.4f, \"peak_rss_mb\": %.1f, \"positive\": %ld, \"negative\": %ld}\n",
	       count, threads, median, now() - t0, peak_rss_mb(), atomic_load(&job.positive),
	       atomic_load(&job.negative));
	fflush(stdout);
	if (labels_path != NULL && write_labels(labels_path, job.labels, count) != 0)
		job.failed = 1;

	metacall_destroy();
	for (size_t i = 0; i < count; ++i)
		free(reviews[i]);
	free(reviews);
	free(job.labels);
	free(pool);
	return atomic_load(&job.failed) == 0 ? 0 : 1;
}
