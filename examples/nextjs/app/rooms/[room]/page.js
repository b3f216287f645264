import Account from "../../account";

export default async function Room({ params }) {
  const { room } = await params;
  return (
    <>
      <h1 id="room">#{room}</h1>
      <Account />
    </>
  );
}
