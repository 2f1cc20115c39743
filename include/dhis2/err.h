/* The one error enum shared by every part of libdhis2. */
#ifndef DHIS2_ERR_H
#define DHIS2_ERR_H

/*
 * Every libdhis2 function that can fail returns one of these. The values are
 * grouped so that a caller can ask dhis2_err_class() whether DHIS2 rejected
 * the credential, could not be asked, or wants more from the user; PAM codes
 * are made from these in pam_dhis2/ only.
 */
enum dhis2_err {
  DHIS2_OK = 0,

  /* Local problems: nothing was decided by DHIS2. */
  DHIS2_ERR_NOMEM,    /* out of memory */
  DHIS2_ERR_INVAL,    /* bad argument or input refused before any request */
  DHIS2_ERR_CONFIG,   /* configuration missing or invalid */
  DHIS2_ERR_IO,       /* a local file could not be read or written */
  DHIS2_ERR_INTERNAL, /* a library call failed unexpectedly */

  /* DHIS2 answered and said no. */
  DHIS2_ERR_REJECTED,         /* wrong password, unknown user, bad PAT */
  DHIS2_ERR_LOCKED,           /* account locked (DHIS2 lockout or admin) */
  DHIS2_ERR_DISABLED,         /* account disabled */
  DHIS2_ERR_EXPIRED,          /* account expired */
  DHIS2_ERR_PASSWORD_EXPIRED, /* password right but expired */
  DHIS2_ERR_TOKEN_EXPIRED,    /* PAT or token expired */
  DHIS2_ERR_TOKEN_DENIED,     /* PAT not allowed from this IP or method */
  DHIS2_ERR_TOKEN_MALFORMED,  /* PAT refused as malformed */
  DHIS2_ERR_TOKEN_CHECKSUM,   /* PAT checksum refused: 2.41+ and a token of
                                 2.37-2.40 (plain CRC), or a typo */
  DHIS2_ERR_TOKEN_OWNER,  /* PAT's owner disabled, locked, expired or 2FA */
  DHIS2_ERR_IDENTITY,     /* DHIS2 accepted, but for another user */
  DHIS2_ERR_2FA_ENROL,    /* user must enrol in 2FA first */
  DHIS2_ERR_2FA_BAD_CODE, /* the verification code was wrong */
  DHIS2_ERR_BAD_TOKEN,    /* a JWT's signature or claims are wrong */
  DHIS2_ERR_UNKNOWN_KEY,  /* a JWT's kid is not in the JWKS: refetch */
  DHIS2_ERR_NO_USER,      /* an account lookup found no such user */

  /* DHIS2 wants a verification code: ask the user and call again. */
  DHIS2_ERR_2FA_REQUIRED,  /* TOTP code needed */
  DHIS2_ERR_2FA_CODE_SENT, /* an e-mail code was sent */

  /* An OAuth2 device flow is still waiting for the user. */
  DHIS2_ERR_PENDING,   /* authorization_pending: poll again */
  DHIS2_ERR_SLOW_DOWN, /* slow_down: poll again, 5 s more apart */

  /* DHIS2 could not be asked, or its answer cannot be used. */
  DHIS2_ERR_CONNECT,     /* name resolution or connection failed */
  DHIS2_ERR_TIMEOUT,     /* connect_timeout or timeout passed */
  DHIS2_ERR_TLS,         /* TLS handshake, certificate or pin failure */
  DHIS2_ERR_REDIRECT,    /* a 3xx: never followed */
  DHIS2_ERR_SERVER,      /* 5xx */
  DHIS2_ERR_HTTP,        /* an unexpected status (4xx other than the above) */
  DHIS2_ERR_TOO_LARGE,   /* the reply exceeded the body cap */
  DHIS2_ERR_MALFORMED,   /* the reply was not the JSON expected */
  DHIS2_ERR_UNSUPPORTED, /* the endpoint does not exist on this server */
  DHIS2_ERR_LOOKUP_DENIED, /* the lookup token was refused, or lacks
                              F_USER_VIEW: a configuration problem */
};

/* What a caller should do about an error. */
enum dhis2_err_class {
  DHIS2_CLASS_OK,          /* success */
  DHIS2_CLASS_LOCAL,       /* our side: input, config, memory, files */
  DHIS2_CLASS_REJECTED,    /* DHIS2 decided: the credential does not log in */
  DHIS2_CLASS_ACCOUNT,     /* DHIS2 decided: the account cannot log in now */
  DHIS2_CLASS_NEEDS_CODE,  /* ask for a verification code, then retry */
  DHIS2_CLASS_WAIT,        /* the user has not finished elsewhere yet */
  DHIS2_CLASS_UNAVAILABLE, /* no decision could be had from DHIS2 */
};

/* Returns a short English sentence for err; never NULL, static storage. */
const char *dhis2_strerror(enum dhis2_err err);

/* Returns the class of err. */
enum dhis2_err_class dhis2_err_class(enum dhis2_err err);

#endif /* DHIS2_ERR_H */
