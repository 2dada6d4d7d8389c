/* Logging with levels through a settable callback (the one piece of global
 * mutable state in the library besides the allocator hook). */
#ifndef NEMOC_LOG_H
#define NEMOC_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nc_log_level {
    NC_LOG_DEBUG = 0,
    NC_LOG_INFO = 1,
    NC_LOG_WARN = 2,
    NC_LOG_ERROR = 3,
    NC_LOG_OFF = 4,
} nc_log_level;

typedef void (*nc_log_fn)(nc_log_level level, const char *msg, void *user_data);

/* Replaces the sink (NULL restores the default: stderr with a level tag). */
void nc_log_set_callback(nc_log_fn fn, void *user_data);
void nc_log_set_level(nc_log_level level);
nc_log_level nc_log_get_level(void);

void nc_log_msg(nc_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define NC_DEBUG(...) nc_log_msg(NC_LOG_DEBUG, __VA_ARGS__)
#define NC_INFO(...) nc_log_msg(NC_LOG_INFO, __VA_ARGS__)
#define NC_WARN(...) nc_log_msg(NC_LOG_WARN, __VA_ARGS__)
#define NC_ERROR(...) nc_log_msg(NC_LOG_ERROR, __VA_ARGS__)

#ifdef __cplusplus
}
#endif
#endif
