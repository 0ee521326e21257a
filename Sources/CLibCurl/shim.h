#include <curl/curl.h>

// curl_easy_setopt, curl_multi_setopt and curl_easy_getinfo are variadic,
// which Swift cannot call: one typed wrapper per argument kind.

typedef size_t (*shim_write_callback)(char *data, size_t size, size_t count, void *context);
typedef int (*shim_socket_callback)(CURL *easy, curl_socket_t fd, int what, void *context, void *socket_context);
typedef int (*shim_timer_callback)(CURLM *multi, long timeout_ms, void *context);

static inline CURLcode shim_easy_setopt_long(CURL *h, CURLoption option, long value) { return curl_easy_setopt(h, option, value); }
static inline CURLcode shim_easy_setopt_pointer(CURL *h, CURLoption option, void *value) { return curl_easy_setopt(h, option, value); }
static inline CURLcode shim_easy_setopt_string(CURL *h, CURLoption option, const char *value) { return curl_easy_setopt(h, option, value); }
static inline CURLcode shim_easy_setopt_write(CURL *h, shim_write_callback value) { return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, value); }
static inline CURLcode shim_easy_getinfo_long(CURL *h, CURLINFO info, long *value) { return curl_easy_getinfo(h, info, value); }
static inline CURLcode shim_easy_getinfo_pointer(CURL *h, CURLINFO info, void **value) { return curl_easy_getinfo(h, info, value); }

static inline CURLMcode shim_multi_setopt_pointer(CURLM *m, CURLMoption option, void *value) { return curl_multi_setopt(m, option, value); }
static inline CURLMcode shim_multi_setopt_socket(CURLM *m, shim_socket_callback value) { return curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, value); }
static inline CURLMcode shim_multi_setopt_timer(CURLM *m, shim_timer_callback value) { return curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, value); }

// The CURLMsg union, read without Swift seeing it.
static inline CURLcode shim_message_result(CURLMsg *message) { return message->data.result; }
