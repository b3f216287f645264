import Account from "./account";

export default function Home() {
  return (
    <>
      <h1>Welcome</h1>
      <Account />
    </>
  );
}
