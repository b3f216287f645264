"use client";

import { useCallback, useEffect, useState } from "react";
import { PROVIDERS, authClient } from "./auth-client";

function hide(event) {
  event.currentTarget.style.display = "none";
}

function SignIn() {
  const [busy, setBusy] = useState(null);
  const [problem, setProblem] = useState(null);

  async function signIn(provider) {
    setBusy(provider);
    setProblem(null);
    // On success the client navigates to the provider; we come back to this very page.
    const { error } = await authClient.signIn.social({
      provider,
      callbackURL: window.location.pathname,
      errorCallbackURL: "/error",
    });
    if (error) {
      setProblem(error.message || error.statusText || "Signing in did not start.");
      setBusy(null);
    }
  }

  return (
    <section id="signed-out">
      <p>You are not signed in.</p>
      {PROVIDERS.map(({ id, name }) => (
        <button key={id} id={`sign-in-${id}`} disabled={busy !== null} onClick={() => signIn(id)}>
          Sign in with {name}
        </button>
      ))}
      {problem && <p className="problem" role="alert">{problem}</p>}
    </section>
  );
}

function Presentation({ user }) {
  const badges = user.badges || [];
  return (
    <div className="who">
      {user.image && <img className="avatar" src={user.image} alt="" onError={hide} />}
      <span id="user-name" className="name" style={{ color: user.nameColor || undefined }}>
        {user.name || user.email || "Anonymous"}
      </span>
      {user.flair && (
        <span id="flair" className="flair" style={{ color: user.flair.color || undefined }}>
          {user.flair.text}
        </span>
      )}
      {badges.length > 0 && (
        <ul id="badges" className="badges">
          {badges.map((badge) => (
            <li
              key={badge.id}
              data-badge={badge.id}
              className="badge"
              style={{ borderColor: badge.color || undefined, color: badge.color || undefined }}
            >
              <img src={badge.icon} alt="" width={16} height={16} onError={hide} />
              {badge.label}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

function Sessions({ currentId }) {
  const [sessions, setSessions] = useState(null);
  const [problem, setProblem] = useState(null);

  const load = useCallback(async () => {
    const { data, error } = await authClient.listSessions();
    if (error) {
      setProblem(
        error.code === "SESSION_NOT_FRESH"
          ? "Sign in again to see your sessions."
          : error.message || "Your sessions could not be loaded.",
      );
      setSessions([]);
    } else {
      setProblem(null);
      setSessions(data);
    }
  }, []);

  useEffect(() => {
    load();
  }, [load]);

  async function revoke(session) {
    // session.token is the session's public id: idp never hands the real token to JavaScript.
    await authClient.revokeSession({ token: session.token });
    if (session.id !== currentId) await load(); // revoking this one signs us out instead
  }

  if (sessions === null) return <p>Loading your sessions…</p>;
  return (
    <section id="sessions">
      <h2>Your sessions</h2>
      {problem && <p className="problem">{problem}</p>}
      <ul>
        {sessions.map((session) => (
          <li key={session.id} data-session={session.id}>
            <span>
              {session.id === currentId ? "This browser" : session.userAgent || "Unknown device"}
              {" · signed in "}
              {new Date(session.createdAt).toLocaleString()}
            </span>
            <button className="revoke" onClick={() => revoke(session)}>
              Revoke
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}

export default function Account() {
  const { data, isPending } = authClient.useSession();
  if (isPending) return <p id="loading">Loading…</p>;
  if (!data) return <SignIn />;
  const { user, session } = data;
  return (
    <section id="signed-in">
      <Presentation user={user} />
      {user.email && <p className="email">{user.email}</p>}
      <Sessions currentId={session.id} />
      <button id="sign-out" onClick={() => authClient.signOut()}>
        Sign out
      </button>
    </section>
  );
}
