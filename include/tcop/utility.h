/*
 * tcop/utility.h: utility statements. bgw has no ProcessUtility hook; the header exists because worker code
 * includes it, and brings what PostgreSQL's brings in that such code uses.
 */
#ifndef BGW_TCOP_UTILITY_H
#define BGW_TCOP_UTILITY_H

#include "postgres.h"

#endif /* BGW_TCOP_UTILITY_H */
