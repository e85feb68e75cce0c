/*
** core/utf8.h: UTF-8 validation (internal).
*/
#ifndef CF_UTF8_H
#define CF_UTF8_H

#include <stddef.h>

/* Non-zero if s[0..n) is valid UTF-8 (no overlongs, no surrogates, at most
** U+10FFFF) without NUL bytes. */
int cf__utf8_valid(const char *s, size_t n);

#endif /* CF_UTF8_H */
