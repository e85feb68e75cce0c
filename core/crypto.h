/*
** core/crypto.h: hashing, MACs, signatures and encodings (internal).
**
** core/crypto.c is the only file of the project that includes mbedTLS, so a
** reader knows where that dependency can bite.  Everything here is pure
** computation over caller buffers, no I/O.
*/
#ifndef CF_CRYPTO_H
#define CF_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CF_SHA256_LEN 32

/* SHA-256 of data[0..len) into out[32]. */
void cf__sha256(const void *data, size_t len, unsigned char out[CF_SHA256_LEN]);

/* Lowercase hex of bin[0..len) into out, which must hold 2*len+1 bytes. */
void cf__hex(const unsigned char *bin, size_t len, char *out);

#endif
