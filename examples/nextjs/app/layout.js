import "./globals.css";

export const metadata = { title: "idp example site" };

export default function RootLayout({ children }) {
  return (
    <html lang="en">
      <body>
        <header>
          <a href="/">Example site</a>
          <nav>
            <a href="/rooms/general">#general</a>
            <a href="/rooms/random">#random</a>
          </nav>
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}
