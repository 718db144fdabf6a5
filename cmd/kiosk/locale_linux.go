//go:build linux && cgo

package main

// Fyne reads the user's locale in a package initialiser, before main runs,
// and its locale library passes "C.UTF-8" (the default locale of Debian
// containers and many servers) through as a language tag, which fails to
// parse: every command then began with a three-line "Fyne error: Error
// parsing user locale C". "C" and "POSIX" alone are understood as "no
// locale". No Go code runs before Fyne's initialiser (packages initialise
// in import-path order, and fyne.io sorts before kiosk), so this C
// constructor, which the loader runs before the Go runtime copies the
// environment, shortens "C.<codeset>" and "POSIX.<codeset>" in LC_ALL,
// LC_MESSAGES and LANG to plain "C" and "POSIX", in place. Both name the
// same C locale for messages; only the codeset differs, and nothing in the
// kiosk formats text through the C library's locale.

/*
#include <string.h>

extern char **environ;

__attribute__((constructor)) static void kiosk_plain_c_locale(void) {
	static const char *const names[] = {"LC_ALL=", "LC_MESSAGES=", "LANG="};
	for (char **e = environ; e != NULL && *e != NULL; e++) {
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			size_t n = strlen(names[i]);
			if (strncmp(*e, names[i], n) != 0) {
				continue;
			}
			char *v = *e + n;
			if (strncmp(v, "C.", 2) == 0) {
				v[1] = '\0';
			} else if (strncmp(v, "POSIX.", 6) == 0) {
				v[5] = '\0';
			}
		}
	}
}
*/
import "C"
