#ifndef SOUK_VERSION_H
#define SOUK_VERSION_H
#define SOUK_VERSION "0.1.0"
#endif
