//! The passphrase for `--passphrase`: from OCPVAULT_PASSPHRASE, else asked on the
//! terminal (the archive library never talks to a terminal).

use age::secrecy::SecretString;
use ocpvault_archive::crypto::CryptoError;
use std::io;

/// Reads the passphrase: OCPVAULT_PASSPHRASE when set, else from the terminal.
pub fn read_passphrase(confirm: bool) -> Result<SecretString, CryptoError> {
    if let Ok(p) = std::env::var("OCPVAULT_PASSPHRASE") {
        if p.is_empty() {
            return Err(CryptoError::Decrypt {
                path: "OCPVAULT_PASSPHRASE".into(),
                why: "empty passphrase".into(),
            });
        }
        return Ok(SecretString::from(p));
    }
    let tty_err = |e: io::Error| CryptoError::File {
        path: "/dev/tty".into(),
        why: format!("{e}; set OCPVAULT_PASSPHRASE when there is no terminal"),
    };
    let p = rpassword::prompt_password("passphrase: ").map_err(tty_err)?;
    if confirm {
        let again = rpassword::prompt_password("passphrase (again): ").map_err(tty_err)?;
        if again != p {
            return Err(CryptoError::Decrypt {
                path: "/dev/tty".into(),
                why: "passphrases do not match".into(),
            });
        }
    }
    if p.is_empty() {
        return Err(CryptoError::Decrypt {
            path: "/dev/tty".into(),
            why: "empty passphrase".into(),
        });
    }
    Ok(SecretString::from(p))
}
