// Where idp sends the browser when a sign-in fails (errorCallbackURL: "/error"), with ?error=<code>.
// The codes are those of docs/api.md ("Errors of the callback").
const MESSAGES = {
  access_denied: "You cancelled the sign-in at the provider. You are not signed in.",
  state_mismatch:
    "This sign-in link was already used, has expired, or was started in another browser. Please start again.",
  state_not_found: "The sign-in answer was incomplete. Please start again.",
  no_code: "The provider did not complete the sign-in. Please try again.",
  invalid_code: "The provider did not accept the sign-in. Please try again.",
  account_not_linked:
    "An account with this email already exists. Sign in with the provider you used before, then link this one from your settings.",
  account_already_linked_to_different_user: "This account is already linked to another user.",
  unable_to_link_account: "The account could not be linked. Sign in again and retry.",
  upstream_unavailable: "The sign-in provider is not answering. Please try again in a moment.",
  upstream_error: "The sign-in provider reported an error. Please try again.",
  invalid_upstream_response:
    "The sign-in provider answered in a way we could not read. Please try again.",
  invalid_id_token: "The provider's answer could not be verified. Please try again.",
  issuer_mismatch: "The sign-in answer came from an unexpected provider. Please start again.",
  hosted_domain_mismatch: "This account is not part of the organisation that may sign in here.",
  oauth_provider_not_found: "This sign-in provider is not configured.",
  internal_server_error: "Something went wrong on our side; nothing was saved. Please try again.",
};
const GENERIC = "Something went wrong while signing you in. Please try again.";

export default async function SignInError({ searchParams }) {
  const { error } = await searchParams;
  const code = typeof error === "string" && /^[A-Za-z0-9_-]{1,64}$/.test(error) ? error : "unknown";
  return (
    <>
      <h1>We couldn't sign you in</h1>
      <p id="error-message" role="alert">
        {Object.hasOwn(MESSAGES, code) ? MESSAGES[code] : GENERIC}
      </p>
      <p className="code">
        Error code: <span id="error-code">{code}</span>
      </p>
      <p>
        <a id="back" href="/">
          Back to the site
        </a>
      </p>
    </>
  );
}
